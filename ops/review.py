"""Trainers' loop over real conversations.

    python -m ops.review export [--out FILE] [--min-confidence 0.6]
        customer messages from the tracker store that had low confidence, hit the fallback or came
        right before a handoff: redacted, de-duplicated, grouped by predicted intent (make review)
    python -m ops.review label FILE
        add the labelled messages to data/nlu/reviewed.yml, then validate; on failure nothing
        changes (make label FILE=...)
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import List, Set

import sqlalchemy as sa
import yaml

from careline.db.engine import make_engine
from careline.nlu import datacheck, review
from careline.shared.clock import utcnow
from careline.shared.settings import PROJECT_ROOT, load_settings

REVIEWED = Path("data") / "nlu" / "reviewed.yml"
REVIEW_DIR = PROJECT_ROOT / "review"


def known_intents(root: Path = PROJECT_ROOT) -> List[str]:
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    topics = sorted({e.intent for path in (root / "data" / "nlu").glob("*.yml")
                     for e in datacheck.examples(path, root) if e.intent.startswith("faq/")})
    return [i for i in datacheck.intent_names(domain) if i != "faq"] + topics


def export(out: Path, min_confidence: float) -> int:
    engine = make_engine(load_settings().tracker_db_url, read_only=True)
    if "events" not in sa.inspect(engine).get_table_names():
        print("review: the tracker store has no conversations yet", file=sys.stderr)
        return 1
    events = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                      sa.column("action_name"), sa.column("data"))
    with engine.connect() as db:
        rows = db.execute(sa.select(events.c.sender_id, events.c.type_name, events.c.action_name, events.c.data)
                          .where(events.c.type_name.in_(("user", "action"))).order_by(events.c.id))
        items = review.candidates(((r[0], r[1], r[2], r[3]) for r in rows), low_confidence=min_confidence)
    document = review.review_document(items, known_intents(), utcnow().isoformat(timespec="seconds"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Careline review: label what customers said, then `make label FILE=" + str(out.relative_to(
        PROJECT_ROOT) if out.is_relative_to(PROJECT_ROOT) else out) + "`\n" + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    print(f"review: {len(items)} messages to label in {len(document['by_predicted_intent'])} groups -> {out}")
    return 0


def taken_texts(root: Path = PROJECT_ROOT) -> Set[str]:
    """Normalised examples already in training or held-out data."""
    paths = [*(root / "data" / "nlu").glob("*.yml"), *(root / "tests" / "data").glob("nlu_*.yml")]
    return {e.key for path in paths for e in datacheck.examples(path, root)}


def label(path: Path, validate: List[str], root: Path = PROJECT_ROOT) -> int:
    reviewed = root / REVIEWED
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        pairs = review.labelled(document, set(known_intents(root)))
    except (OSError, yaml.YAMLError, review.LabelError) as error:
        print(f"label: {path}: {error}", file=sys.stderr)
        return 1
    before = reviewed.read_text(encoding="utf-8") if reviewed.exists() else ""
    text, added, skipped = review.merge(before, pairs, taken_texts(root))
    if not added:
        print(f"label: nothing new to add ({skipped} already known)")
        return 0
    reviewed.write_text(text, encoding="utf-8")
    print(f"label: added {added} examples to {REVIEWED} ({skipped} already known); validating ...", flush=True)
    if subprocess.run(validate, cwd=root).returncode != 0:
        if before:
            reviewed.write_text(before, encoding="utf-8")
        else:
            reviewed.unlink()
        print("label: validation failed, so the labelled examples were taken out again; fix the file and retry",
              file=sys.stderr)
        return 1
    print("label: OK. Now `make train` (and `make eval` to see the effect).")
    return 0


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export")
    exporting.add_argument("--out", type=Path,
                           default=REVIEW_DIR / f"review-{utcnow().strftime('%Y%m%d-%H%M')}.yml")
    exporting.add_argument("--min-confidence", type=float, default=0.6)
    labelling = commands.add_parser("label")
    labelling.add_argument("file", type=Path)
    labelling.add_argument("--validate", default="make --no-print-directory validate")
    args = parser.parse_args(argv)
    if args.command == "export":
        return export(args.out.resolve(), args.min_confidence)
    return label(args.file, args.validate.split())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
