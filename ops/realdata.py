"""`make data`: training, development and test data from the public corpora of real customer phrasings.

Reads the mapping in data/realdata/mapping.yml and the corpora in ../shared/realdata/ (or the
folder in $CARELINE_REALDATA), then writes, the same on every machine:

- data/nlu/realdata.yml        training examples, at most `train_per_label_and_source` per
                               (Careline label, source), spread evenly over the source labels mapped
                               to it, so no source drowns an intent;
- tests/data/realdata_dev.yml  development rows (errors may be looked at and data added);
- tests/data/realdata_test.yml test rows (never tuned on);
- data/frustration/real.yml    real labelled wording for the frustration scorer: the Bitext rows
                               tagged offensive (W) as frustrated and a sample of its other rows as
                               calm (complaints stated calmly included), and the licensed corpora of
                               data/frustration/raw (ops/frustration_sources.py, SOURCES.md).

Rows are ordered by a hash of the seed and the text, not by position, so a corpus update moves few
rows; the same hash puts a tenth of the rows in the test split and a tenth in the development split
whatever the mapping or the caps (`part_of`), so changing the mapping never moves a row between them.
A training candidate that equals or nearly equals one of our test or development messages, or
one of our own training examples under another label, is skipped; a development or test row that
nearly equals any training example is dropped, so `make validate` holds. Long digit strings
(the corpus's templated order numbers) become order numbers of our form (CL-123456).

    python -m ops.realdata [--source DIR] [--check]   --check: exit 1 if the committed files are stale
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import yaml

from careline.nlu.datacheck import NearDuplicates, examples, intent_names
from careline.shared.settings import PROJECT_ROOT

MAPPING = PROJECT_ROOT / "data" / "realdata" / "mapping.yml"
TRAIN_FILE = PROJECT_ROOT / "data" / "nlu" / "realdata.yml"
DEV_FILE = PROJECT_ROOT / "tests" / "data" / "realdata_dev.yml"
TEST_FILE = PROJECT_ROOT / "tests" / "data" / "realdata_test.yml"
FRUSTRATION_FILE = PROJECT_ROOT / "data" / "frustration" / "real.yml"
BITEXT_CALM_SAMPLE = 400
# Calm requests that carry a problem ("I was charged twice", "my refund hasn't shown up"): the scorer
# must learn that a problem stated calmly is not frustration. Banking77 is crowd-written and calm.
BANKING_CALM_LABELS = ("card_arrival", "transaction_charged_twice", "request_refund", "Refund_not_showing_up",
                       "declined_card_payment", "extra_charge_on_statement", "card_payment_not_recognised",
                       "pending_card_payment", "card_not_working", "failed_transfer", "wrong_amount_of_cash_received",
                       "lost_or_stolen_card", "balance_not_updated_after_bank_transfer")
BANKING_CALM_PER_LABEL = 40
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "realdata"
OUT_OF_SCOPE = "out_of_scope"
LONG_NUMBER = re.compile(r"\b\d{7,}\b")
MARKUP = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class Row:
    text: str
    label: str          # ours
    source: str         # bitext, banking77
    source_label: str


def clean(text: str) -> str:
    """One line, no entity-markup characters, templated long numbers as our order numbers."""
    text = " ".join(MARKUP.sub(" ", str(text)).split())
    return LONG_NUMBER.sub(lambda m: f"CL-{m.group(0)[-6:]}", text).strip()


def order_key(seed: str, text: str) -> str:
    return hashlib.sha1(f"{seed}\0{text.lower()}".encode()).hexdigest()


def records(path: Path) -> List[Dict[str, str]]:
    """The rows of a corpus file (read once per run: the mapping check, the splits and the frustration
    data all walk the same rows)."""
    return _records(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _records(path: str, _modified: int) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _line_of(mapping_text: str, label: str) -> int:
    for number, line in enumerate(mapping_text.splitlines(), start=1):
        if re.search(rf"(^|[\s\[,]){re.escape(label)}(:|,|\]|$)", line):
            return number
    return 1


def mapping_problems(mapping: Mapping[str, object], source_dir: Path, root: Path = PROJECT_ROOT) -> List[str]:
    """What is wrong with mapping.yml, as `data/realdata/mapping.yml:<line>: ...` lines: a label in two
    lists, a label the corpus does not have, a corpus label nobody decided on, a target that is neither
    one of our intents nor an answered FAQ topic."""
    where = "data/realdata/mapping.yml"
    text = (root / where).read_text(encoding="utf-8")
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    intents = set(intent_names(domain))
    topics = {name[len("utter_"):] for name in (domain.get("responses") or {}) if name.startswith("utter_faq/")}
    problems: List[str] = []
    for source, spec in mapping["sources"].items():
        lists = {"map": set(spec.get("map") or {}), "left_out": set(spec.get("left_out") or {}),
                 "out_of_scope": set(spec.get("out_of_scope") or [])}
        for first, second in (("map", "left_out"), ("map", "out_of_scope"), ("left_out", "out_of_scope")):
            for label in sorted(lists[first] & lists[second]):
                problems.append(f"{where}:{_line_of(text, label)}: {source} label {label} is in both `{first}` and "
                                f"`{second}`: keep it in one (moving a label to `map:` means taking it out of "
                                "`left_out:`)")
        for label, ours in (spec.get("map") or {}).items():
            if ours not in intents and ours not in topics:
                problems.append(f"{where}:{_line_of(text, label)}: {label} maps to {ours}, which is neither an intent "
                                "in domain.yml nor an FAQ topic with an utter_faq/... answer")
        path = source_dir / spec["file"]
        if path.exists():
            present = {record["source_intent"] for record in records(path)}
            decided = set().union(*lists.values())
            for label in sorted(decided - present):
                problems.append(f"{where}:{_line_of(text, label)}: {spec['file']} has no label {label} "
                                "(misspelt?)")
            for label in sorted(present - decided):
                problems.append(f"{where}:1: {source} label {label} is not decided: map it, leave it out with a "
                                "reason, or list it under out_of_scope")
    return problems


def read_rows(source_dir: Path, mapping: Mapping[str, object]) -> Dict[str, List[Row]]:
    """Every mapped or out-of-scope row, grouped by `source/source_label`, in hash order."""
    seed = str(mapping["balance"]["seed"])
    groups: Dict[str, List[Row]] = defaultdict(list)
    for source, spec in mapping["sources"].items():
        path = source_dir / spec["file"]
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: point --source or $CARELINE_REALDATA at the corpora")
        labels = dict(spec.get("map") or {})
        labels.update({name: OUT_OF_SCOPE for name in spec.get("out_of_scope") or []})
        seen = set()
        for record in records(path):
            ours = labels.get(record["source_intent"])
            text = clean(record["text"])
            if ours is None or not text or text.lower() in seen:
                continue
            seen.add(text.lower())
            groups[f"{source}/{record['source_intent']}"].append(Row(text, ours, source, record["source_intent"]))
    for rows in groups.values():
        rows.sort(key=lambda row: order_key(seed, row.text))
    return dict(sorted(groups.items()))


def _ours(root: Path) -> Tuple[List[Tuple[str, str]], List[str]]:
    """Our own training examples (text, label) and every test/development message text."""
    training = [(e.text, e.intent) for path in sorted((root / "data" / "nlu").glob("*.yml"))
                if path.name != TRAIN_FILE.name for e in examples(path, root)]
    held = [e.text for path in sorted((root / "tests" / "data").glob("nlu_*.yml")) for e in examples(path, root)]
    return training, held


def part_of(seed: str, text: str) -> str:
    """The split a corpus row belongs to, fixed by a hash of its text alone (not by the mapping, the caps
    or which rows were trained on): a tenth are test rows, a tenth development rows, the rest may train."""
    bucket = int(order_key(seed, text)[:8], 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def split(groups: Mapping[str, List[Row]], mapping: Mapping[str, object],
          own_training: Sequence[Tuple[str, str]], own_heldout: Sequence[str]) -> Dict[str, List[Row]]:
    """{"train": [...], "dev": [...], "test": [...]} by the balance rules of the mapping.

    The test split comes first and depends on nothing we train on: the test-bucket rows of each mapped
    source label (at most `test_per_source_label`), without near copies of each other. Then the
    development rows (not near a test row), then the training rows (not near a test or development
    row, nor one of our own test, development or training messages), and last the development rows
    near a training row are dropped. A training example of ours near a test row is for
    `make validate` to point at (drop the example), not a reason to change the test split."""
    balance = mapping["balance"]
    per_label = int(balance["train_per_label_and_source"])
    per_faq = int(balance["train_per_faq_topic_and_source"])
    per_oos = int(balance["out_of_scope_per_label"])
    seed = str(balance["seed"])
    heldout_index = NearDuplicates(own_heldout)
    own_index = NearDuplicates(text for text, _ in own_training)

    def limit(rows: Sequence[Row], part: str) -> int:
        oos = rows[0].label == OUT_OF_SCOPE
        return int(balance["heldout_out_of_scope_per_label" if oos else f"{part}_per_source_label"])

    def held_out(part: str, avoid: NearDuplicates) -> List[Row]:
        taken: List[Row] = []
        kept = NearDuplicates()
        for rows in groups.values():
            count = 0
            for row in rows:
                if count >= limit(rows, part):
                    break
                if part_of(seed, row.text) == part and not avoid.match(row.text) and not kept.match(row.text):
                    taken.append(row)
                    kept.add(row.text)
                    count += 1
        return taken

    test = held_out("test", NearDuplicates())
    dev = held_out("dev", NearDuplicates(row.text for row in test))
    held_index = NearDuplicates([*own_heldout, *(row.text for row in test), *(row.text for row in dev)])

    def trainable(row: Row) -> bool:
        # near ours: nothing new, or a clash; near a held-out message: a leak
        return part_of(seed, row.text) == "train" and not held_index.match(row.text) and not own_index.match(row.text)

    # Training: per (our label, source), rows round-robin over the source labels mapped to it, up to
    # the quota; each bank-only (out_of_scope) label gives a few rows of its own.
    by_target: Dict[Tuple[str, str], List[str]] = defaultdict(list)
    for key, rows in groups.items():
        by_target[(rows[0].label, rows[0].source)].append(key)
    train: List[Row] = []
    for (label, _source), keys in sorted(by_target.items()):
        queues = [[row for row in groups[key] if trainable(row)] for key in keys]
        if label == OUT_OF_SCOPE:
            train += [row for queue in queues for row in queue[:per_oos]]
            continue
        quota = per_faq if label.startswith("faq/") else per_label
        taken: List[Row] = []
        while len(taken) < quota and any(queues):
            for queue in queues:
                if queue and len(taken) < quota:
                    taken.append(queue.pop(0))
        train += taken
    train_index = NearDuplicates([text for text, _ in own_training] + [row.text for row in train])
    dev = [row for row in dev if not train_index.match(row.text) and not heldout_index.match(row.text)]
    return {"train": train, "dev": dev, "test": test}


def render(rows: Iterable[Row], header: Sequence[str]) -> str:
    """Rasa NLU YAML: one block per label (sorted), the rows in hash order within it."""
    by_label: Dict[str, List[Row]] = defaultdict(list)
    for row in rows:
        by_label[row.label].append(row)
    lines = [f"# {line}" if line else "#" for line in header]
    lines += ['version: "3.1"', "nlu:"]
    for label in sorted(by_label):
        sources = Counter(f"{r.source}/{r.source_label}" for r in by_label[label])
        lines.append(f"# {label}: " + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())))
        lines += [f"- intent: {label}", "  examples: |"]
        lines += [f"    - {row.text}" for row in by_label[label]]
    return "\n".join(lines) + "\n"


HEADER = [
    "GENERATED by `make data` (ops/realdata.py) from data/realdata/mapping.yml: do not edit by hand.",
    "Real customer phrasings from two public corpora, relabelled to Careline's intents:",
    "- Bitext customer-support sample (2023-08-18), (c) Bitext Innovations, CDLA-Sharing-1.0;",
    "- Banking77 (Casanueva et al., 2020, PolyAI), CC BY 4.0.",
    "Attribution, licences and what was changed: data/realdata/README.md.",
]


def frustration_sources(source_dir: Path, mapping: Mapping[str, object], root: Path) -> Dict[str, Dict[str, List[str]]]:
    """{source: {"frustrated": [...], "calm": [...]}}, without texts near a frustration test message."""
    from ops.frustration_sources import load_sources

    seed = str(mapping["balance"]["seed"])
    held = []
    for path in sorted((root / "tests" / "data").glob("frustration_*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        held += [str(t) for key in ("frustrated", "calm") for t in data.get(key) or []]
    near = NearDuplicates(held)
    offensive, other = [], []
    for record in records(source_dir / mapping["sources"]["bitext"]["file"]):
        (offensive if "W" in record["tags"] else other).append(clean(record["text"]))
    other.sort(key=lambda text: order_key(seed, text))
    found = {"bitext_support": (offensive, other[:BITEXT_CALM_SAMPLE])}
    problems: Dict[str, List[str]] = defaultdict(list)
    for record in records(source_dir / mapping["sources"]["banking77"]["file"]):
        if record["source_intent"] in BANKING_CALM_LABELS:
            problems[record["source_intent"]].append(clean(record["text"]))
    calm_problems = []
    for label in BANKING_CALM_LABELS:
        calm_problems += sorted(problems[label], key=lambda text: order_key(seed, text))[:BANKING_CALM_PER_LABEL]
    found["banking77_problems"] = ([], calm_problems)
    found.update({name: (labelled.frustrated, labelled.calm) for name, labelled in load_sources(root).items()})
    return {name: {"frustrated": [t for t in frustrated if not near.match(t)],
                   "calm": [t for t in calm if not near.match(t)]}
            for name, (frustrated, calm) in found.items()}


def render_frustration(sources: Mapping[str, Mapping[str, List[str]]]) -> str:
    header = ["GENERATED by `make data` (ops/realdata.py): do not edit by hand. Real labelled wording for the",
              "frustration scorer, by source; provenance, licences and label rules in data/frustration/SOURCES.md",
              "(bitext_support: data/realdata/README.md; rows tagged W, offensive, are frustrated, a hash-ordered",
              f"sample of {BITEXT_CALM_SAMPLE} other rows calm; banking77_problems: calm, crowd-written requests that",
              "carry a problem, the first rows of each problem label in hash order). Messages near a frustration test",
              "message are left out."]
    body = yaml.safe_dump({"sources": {name: dict(lists) for name, lists in sources.items()}}, allow_unicode=True,
                          sort_keys=False, width=10_000)   # one line per message: make validate reads lines
    return "\n".join(f"# {line}" for line in header) + "\n" + body


def generate(source_dir: Path, root: Path = PROJECT_ROOT) -> Dict[str, str]:
    """The three files' contents, by path relative to the project."""
    mapping = yaml.safe_load((root / "data" / "realdata" / "mapping.yml").read_text(encoding="utf-8"))
    problems = mapping_problems(mapping, source_dir, root)
    if problems:
        raise ValueError("the mapping has problems, nothing was written:\n  " + "\n  ".join(problems))
    own_training, own_heldout = _ours(root)
    parts = split(read_rows(source_dir, mapping), mapping, own_training, own_heldout)
    purpose = {"train": "Training split.", "dev": "Development split: look at its errors, add data for them.",
               "test": "Test split: nobody looks at its errors or tunes on it; `make eval` reports it."}
    files = {"train": TRAIN_FILE, "dev": DEV_FILE, "test": TEST_FILE}
    result = {str(files[part].relative_to(PROJECT_ROOT)): render(rows, [*HEADER, purpose[part], f"{len(rows)} rows."])
              for part, rows in parts.items()}
    result[str(FRUSTRATION_FILE.relative_to(PROJECT_ROOT))] = render_frustration(
        frustration_sources(source_dir, mapping, root))
    return result


def main(argv: List[str]) -> int:
    source = Path(argv[argv.index("--source") + 1]) if "--source" in argv else \
        Path(os.environ.get("CARELINE_REALDATA") or DEFAULT_SOURCE)
    if not source.is_dir():
        print(f"data: the corpora are not at {source}; set CARELINE_REALDATA or pass --source DIR "
              "(the generated files in data/nlu and tests/data are committed and stay as they are)", file=sys.stderr)
        return 2
    try:
        files = generate(source)
    except (FileNotFoundError, KeyError, ValueError, yaml.YAMLError) as problem:
        print(f"data: {problem}", file=sys.stderr)
        return 2
    stale = [name for name, text in files.items()
             if not (PROJECT_ROOT / name).exists() or (PROJECT_ROOT / name).read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for name in stale:
            print(f"data: {name} is not what `make data` generates from {source}", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (PROJECT_ROOT / name).write_text(text, encoding="utf-8")
        rows = text.count("\n    - ") + text.count("\n  - ")
        print(f"data: wrote {name} ({rows} rows){' (changed)' if name in stale else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
