"""`make validate`, part two: Careline's own checks of the training data (careline.nlu.datacheck).

Besides the checks of careline.nlu.datacheck, two that keep the evaluation honest:
- No test or development message (every tests/data/nlu_*.yml and tests/data/realdata_*.yml; for the
  frustration scorer tests/data/frustration_*.yml) equals or nearly equals a training example
  (data/nlu/*.yml; data/frustration/*.yml) after normalisation (`datacheck.NearDuplicates`). The fix
  is to drop or rewrite the training example, never to edit a test set.
- No development message equals or nearly equals a test message (tests/data/*_frozen.yml and
  realdata_test.yml are test sets; every other set is development): whatever is tuned on the
  development sets would otherwise be tuned on the test sets too. The fix is to drop the
  development message.
- The frozen test sets (tests/data/*_frozen.yml) are unchanged since a model first ran on them: each is
  listed in tests/data/FROZEN.sha256 (`sha256sum` format, so `sha256sum -c tests/data/FROZEN.sha256`
  checks it too) and its hash must match.

    python -m ops.check_data [--root DIR]   exits 1 and lists file:line problems when a check fails
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from careline.nlu import datacheck
from careline.shared.settings import PROJECT_ROOT

MIN_EXAMPLES = 20         # per intent
MIN_FAQ_EXAMPLES = 10     # per FAQ topic
TEST_SETS = ("nlu_*.yml", "realdata_*.yml")            # intent test and development sets in tests/data
FRUSTRATION_TEST_SETS = ("frustration_*.yml",)         # frustration test and development sets in tests/data
FROZEN_MANIFEST = "tests/data/FROZEN.sha256"
FROZEN_PATTERN = "*_frozen.yml"

LIST_KEY = re.compile(r"^([A-Za-z_][\w-]*):\s*(#.*)?$")
LIST_ITEM = re.compile(r"^\s*- (.+?)\s*$")
MANIFEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def read(root: Path, folder: str, patterns: Sequence[str]) -> List[datacheck.Example]:
    paths = sorted({path for pattern in patterns for path in (root / folder).glob(pattern)})
    return [example for path in paths for example in datacheck.examples(path, root)]


def labelled_lists(path: Path, root: Path) -> List[datacheck.Example]:
    """The messages of a frustration file (lists such as `frustrated:` and `calm:`, also nested under
    other keys), each with its top-level key as the label and its line."""
    import yaml

    found: List[datacheck.Example] = []
    key: Optional[str] = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        header = LIST_KEY.match(line)
        if header:
            key = header.group(1)
            continue
        item = LIST_ITEM.match(line) if key else None
        if item:
            try:
                text = yaml.safe_load(item.group(1))
            except yaml.YAMLError:
                text = item.group(1)
            found.append(datacheck.Example(key, str(text), str(path.relative_to(root)), number))
    return found


def read_lists(root: Path, folder: str, patterns: Sequence[str]) -> List[datacheck.Example]:
    paths = sorted({path for pattern in patterns for path in (root / folder).glob(pattern)})
    return [example for path in paths for example in labelled_lists(path, root)]


def _pairs(reference: Sequence[datacheck.Example], checked: Sequence[datacheck.Example]):
    """(checked message, the reference example it equals or nearly equals, "equals"/"nearly equals")."""
    index = datacheck.NearDuplicates(example.text for example in reference)
    for example in checked:
        found = index.match(example.text)
        if found:
            yield example, reference[found[0]], found[1]


def near_duplicates(training: Sequence[datacheck.Example],
                    tests: Sequence[datacheck.Example]) -> List[datacheck.Problem]:
    """Every test message equal or nearly equal to a training example, reported at the training
    example's line: that is the one to change (a test or development message is never edited)."""
    return [datacheck.Problem(twin.path, twin.line, f"training example '{twin.text}' {how} the test message at "
                                                    f"{test.path}:{test.line} ('{test.text}'): drop it or say the "
                                                    "need in other words")
            for test, twin, how in _pairs(training, tests)]


TEST_SET_NAMES = ("_frozen.yml", "realdata_test.yml")   # tests/data files that are test sets: the rest are dev


def is_test_set(path: str) -> bool:
    return path.endswith(TEST_SET_NAMES)


def development_near_tests(messages: Sequence[datacheck.Example]) -> List[datacheck.Problem]:
    """Every development message equal or nearly equal to a test message, at the development line."""
    tests = [example for example in messages if is_test_set(example.path)]
    development = [example for example in messages if not is_test_set(example.path)]
    return [datacheck.Problem(dev.path, dev.line, f"development message '{dev.text}' {how} the test message at "
                                                  f"{twin.path}:{twin.line} ('{twin.text}'): drop it from the "
                                                  "development set (what is tuned on it would be tuned on the test)")
            for dev, twin, how in _pairs(tests, development)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frozen_problems(root: Path, manifest: str = FROZEN_MANIFEST,
                    pattern: str = FROZEN_PATTERN) -> List[datacheck.Problem]:
    """A frozen test set whose hash differs from the manifest's, that is listed but gone, or that is
    not listed at all."""
    where = root / manifest
    listed = {}
    problems = []
    if where.exists():
        for number, line in enumerate(where.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            match = MANIFEST_LINE.match(line.strip())
            if not match:
                problems.append(datacheck.Problem(manifest, number, "not a `sha256  path` line"))
                continue
            listed[match.group(2)] = (match.group(1), number)
    for name, (expected, number) in sorted(listed.items()):
        path = root / name
        if not path.exists():
            problems.append(datacheck.Problem(manifest, number, f"frozen test set {name} is gone: never delete a "
                                                                "test set a model has run on"))
        elif sha256(path) != expected:
            problems.append(datacheck.Problem(name, 1, f"frozen test set changed: {name} no longer has the hash "
                                                       f"in {manifest}:{number}; never edit a test set after a "
                                                       "model has run on it; write a new one"))
    for path in sorted((root / "tests" / "data").glob(pattern)):
        name = str(path.relative_to(root))
        if name not in listed:
            problems.append(datacheck.Problem(name, 1, f"frozen test set {name} has no hash in {manifest}: once it "
                                                       f"is committed, run `sha256sum {name} >> {manifest}`"))
    return problems


def run(root: Path = PROJECT_ROOT) -> List[datacheck.Problem]:
    training = read(root, "data/nlu", ("*.yml",))
    tests = read(root, "tests/data", TEST_SETS)
    frustration_training = read_lists(root, "data/frustration", ("*.yml",))
    frustration_tests = read_lists(root, "tests/data", FRUSTRATION_TEST_SETS)
    domain = root / "domain.yml"
    code = [*sorted((root / "data").rglob("*.yml")),
            *(path for folder in ("actions", "components", "channels", "careline")
              for path in sorted((root / folder).rglob("*.py")))]
    return (datacheck.too_few(training, MIN_EXAMPLES, MIN_FAQ_EXAMPLES)
            + datacheck.in_two_intents(training)
            + near_duplicates(training, tests)
            + near_duplicates(frustration_training, frustration_tests)
            + development_near_tests(tests)
            + development_near_tests(frustration_tests)
            + frozen_problems(root)
            + datacheck.lexicon_problems(root / "data" / "lexicon.yml", root)
            + datacheck.response_problems(datacheck.domain_responses(domain, root),
                                          datacheck.used_responses(code, root),
                                          datacheck.form_slots(domain), training))


def main(argv: List[str]) -> int:
    problems = run(Path(argv[argv.index("--root") + 1]).resolve() if "--root" in argv else PROJECT_ROOT)
    for problem in problems:
        print(f"  {problem}")
    checks = (f"examples per intent >= {MIN_EXAMPLES}, per FAQ topic >= {MIN_FAQ_EXAMPLES}; no example in two "
              "intents; every response used; every FAQ topic answered; no test message equal or nearly equal to a "
              "training example; no development message near a test message; frozen test sets unchanged; lexicon "
              "well-formed")
    if problems:
        print(f"check_data: FAILED, {len(problems)} problem(s) listed above (the checks: {checks})")
    else:
        print(f"check_data: OK ({checks})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
