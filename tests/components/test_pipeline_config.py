"""careline.nlu.pipeline_config reads config.yml as the Rasa server does."""
from __future__ import annotations

from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

from careline.nlu.pipeline_config import FALLBACK_DEFAULTS, component, fallback_thresholds


def test_the_fallback_defaults_are_rasas_own():
    defaults = FallbackClassifier.get_default_config()
    assert {key: defaults[key] for key in FALLBACK_DEFAULTS} == FALLBACK_DEFAULTS


def test_components_are_found_by_short_or_dotted_name(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: components.frustration_scorer.FrustrationScorer\n    C: 3.0\n"
                      "  - name: FallbackClassifier\n    threshold: 0.4\n")
    assert component("FrustrationScorer", config)["C"] == 3.0
    assert component("Scorer", config) is None, "a whole name, not any suffix"
    assert fallback_thresholds(config) == (0.4, FALLBACK_DEFAULTS["ambiguity_threshold"])
