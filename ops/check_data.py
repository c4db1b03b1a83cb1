"""`make validate`, part two: Careline's own checks of the training data (careline.datacheck).

    python -m ops.check_data [--root DIR]   exits 1 and lists file:line problems when a check fails
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from careline import datacheck
from careline.settings import PROJECT_ROOT

MIN_EXAMPLES = 20         # per intent
MIN_FAQ_EXAMPLES = 10     # per FAQ topic


def run(root: Path = PROJECT_ROOT) -> List[datacheck.Problem]:
    def read(folder: Path, pattern: str) -> List[datacheck.Example]:
        return [e for path in sorted(folder.glob(pattern)) for e in datacheck.examples(path, root)]

    training = read(root / "data" / "nlu", "*.yml")
    heldout = read(root / "tests" / "data", "nlu_*.yml")
    domain = root / "domain.yml"
    code = [*sorted((root / "data").rglob("*.yml")), *sorted((root / "actions").glob("*.py")),
            *sorted((root / "components").glob("*.py"))]
    return (datacheck.too_few(training, MIN_EXAMPLES, MIN_FAQ_EXAMPLES)
            + datacheck.in_two_intents(training)
            + datacheck.leaked(training, heldout)
            + datacheck.lexicon_problems(root / "data" / "lexicon.yml", root)
            + datacheck.response_problems(datacheck.domain_responses(domain, root),
                                          datacheck.used_responses(code, root),
                                          datacheck.form_slots(domain), training))


def main(argv: List[str]) -> int:
    problems = run(Path(argv[argv.index("--root") + 1]).resolve() if "--root" in argv else PROJECT_ROOT)
    for problem in problems:
        print(f"  {problem}")
    print(f"check_data: {'FAILED, ' + str(len(problems)) + ' problem(s)' if problems else 'OK'} "
          f"(examples per intent >= {MIN_EXAMPLES}, per FAQ topic >= {MIN_FAQ_EXAMPLES}; no example in two "
          "intents; every response used; every FAQ topic answered; held-out data kept apart; lexicon well-formed)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
