"""What config.yml says about the NLU pipeline's components (read as plain YAML; no Rasa import).

One home for reading a component's settings, so the actions, the evaluation and the training-side
tools see the same values the Rasa server runs with.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml

from careline.shared import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config.yml"
# Rasa 3.6's FallbackClassifier defaults for a key config.yml leaves out (a test compares them with Rasa's).
FALLBACK_DEFAULTS = {"threshold": 0.3, "ambiguity_threshold": 0.1}


def component(name: str, config: Path = CONFIG) -> Optional[Dict[str, Any]]:
    """The pipeline entry of the component called `name` (short or dotted), or None."""
    pipeline = (yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get("pipeline") or []
    for entry in pipeline:
        if isinstance(entry, dict) and (entry.get("name") == name or str(entry.get("name", "")).endswith("." + name)):
            return entry
    return None


def fallback_thresholds(config: Path = CONFIG) -> Tuple[float, float]:
    """(threshold, ambiguity_threshold) of the FallbackClassifier, with Rasa's defaults for a key left
    out; (0.0, 0.0) when the pipeline has none (then nothing falls back and nothing is asked)."""
    entry = component("FallbackClassifier", config)
    if entry is None:
        return 0.0, 0.0
    settings = {**FALLBACK_DEFAULTS, **entry}
    return float(settings["threshold"]), float(settings["ambiguity_threshold"])
