"""Rasa's command line, with the warnings our design makes expected added to Rasa's own list.

The intent classifier (components/intent_classifier.py) also picks the FAQ topic, so the pipeline
has no ResponseSelector and Rasa warns that the retrieval examples have none at every training.
Rasa installs its warning filters itself when its command line starts (PYTHONWARNINGS cannot
reach past them), so the expected ones are added to its list before it does. Most responses in
domain.yml are sentences the actions render by name (careline.shared.render), so Rasa also warns
that they are in no story or rule; tests/careline/test_customer_texts.py checks their use instead.
The `EXTERNAL_` intents are triggered by the worker when the bot writes first (careline/followup),
never classified from a message, so they have no training examples on purpose.

Usage: python -m ops.rasa_cli <rasa arguments>, e.g. python -m ops.rasa_cli train --config config.yml
"""
from __future__ import annotations

import sys
from typing import List

EXPECTED_WARNINGS = [
    (UserWarning, "You have defined training data with examples for training a response selector"),
    (UserWarning, "The utterance '.*' is not used in any story or rule"),
    (UserWarning, "The intent 'EXTERNAL_.*' is listed in the domain file, but is not found in the NLU training data"),
]


def main(argv: List[str]) -> int:
    from rasa.__main__ import main as rasa_main
    from rasa.utils import common

    common.EXPECTED_WARNINGS.extend(w for w in EXPECTED_WARNINGS if w not in common.EXPECTED_WARNINGS)
    sys.argv = ["rasa", *argv]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
