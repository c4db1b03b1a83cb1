"""Train the Rasa model only when its inputs changed.

A model is named by the content hash of everything that shapes it (config, domain,
training data, custom components and the Rasa pin), so `models/careline-<hash>.tar.gz`
existing means there is nothing to do.

Usage: python -m ops.train [--force] [--print-path]
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List, Set

from careline.shared.settings import PROJECT_ROOT

MODEL_PREFIX = "careline-"
RASA_DATA = ("data/nlu", "data/stories", "data/rules")  # data/frustration is read by the scorer itself
INPUT_GLOBS = ("config.yml", "domain.yml", "domain/**/*.yml", "data/**/*.yml", "components/**/*.py",
               # the business logic the custom components train with
               "careline/nlu/intent_model.py", "careline/nlu/frustration_model.py", "careline/nlu/encoder.py",
               # ... and the patterns and text lengths they read (order numbers, emails, how much of a message)
               "careline/shared/patterns.py", "careline/shared/limits.py",
               # ... and which events are the customer's own words (not a system-triggered intent)
               "careline/shared/events.py",
               # the pretrained encoder's pin (its weights are checked by hash when installed)
               "requirements-encoder.txt")


#: The Rasa server's run-time plug-ins (tracker store, lock store, guards): not part of the trained graph.
RUN_TIME_ONLY = "components/runtime"


def training_inputs(root: Path) -> List[Path]:
    """Every file whose content shapes the trained model, in a stable order."""
    found: Set[Path] = set()
    for pattern in INPUT_GLOBS:
        found.update(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts
                     and not p.relative_to(root).as_posix().startswith(RUN_TIME_ONLY + "/"))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _rasa_pins(root: Path) -> Iterable[str]:
    requirements = root / "requirements.txt"
    if not requirements.exists():
        return []
    keep = ("rasa==", "rasa-sdk==", "tensorflow==", "spacy==")
    return [line.strip() for line in requirements.read_text().splitlines() if line.startswith(keep)]


def training_hash(root: Path = PROJECT_ROOT) -> str:
    """Hex digest over file names and contents of the training inputs and library pins."""
    digest = hashlib.sha256()
    for path in training_inputs(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for pin in _rasa_pins(root):
        digest.update(pin.encode() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = PROJECT_ROOT) -> Path:
    """Where the model for the current inputs lives (it may not exist yet)."""
    return root / "models" / f"{MODEL_PREFIX}{training_hash(root)}.tar.gz"


def train(root: Path = PROJECT_ROOT, force: bool = False) -> Path:
    """Train if needed and return the model path; raise CalledProcessError on failure."""
    target = model_path(root)
    if target.exists() and not force:
        print(f"train: model is up to date ({target.relative_to(root)}), skipping")
        return target
    print(f"train: inputs changed, training {target.name} (about a minute)", flush=True)
    started = time.monotonic()
    command = [
        sys.executable, "-m", "ops.rasa_cli", "train",   # Rasa's CLI, with our expected warnings quiet
        "--config", "config.yml", "--domain", _domain(root), "--data", *RASA_DATA,
        "--out", "models", "--fixed-model-name", target.name[: -len(".tar.gz")],
        "--augmentation", "20",
    ]
    if os.environ.get("CI"):
        command.append("--quiet")
    # Rasa's training cache keys a component by its NLU inputs only; the frustration scorer
    # also reads data/frustration/ and the intent classifier data/lexicon.yml, so the cache is
    # off (the content hash above skips training entirely when nothing changed).
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONWARNINGS="ignore::DeprecationWarning", RASA_MAX_CACHE_SIZE="0")
    subprocess.run(command, cwd=root, env=env, check=True)
    if not target.exists():
        raise RuntimeError(f"rasa train finished but {target} is missing")
    print(f"train: done in {time.monotonic() - started:.0f}s -> {target.relative_to(root)}")
    return target


def _domain(root: Path) -> str:
    return "domain" if (root / "domain").is_dir() else "domain.yml"


def main(argv: List[str]) -> int:
    if "--print-path" in argv:
        print(model_path())
        return 0
    try:
        train(force="--force" in argv)
    except subprocess.CalledProcessError as error:
        print(f"train: rasa train failed with exit code {error.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
