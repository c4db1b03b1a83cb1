"""`make data` (ops/realdata.py): mapping, balance, splits kept apart, determinism, on a small corpus."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from careline.nlu.datacheck import NearDuplicates, examples
from careline.shared.settings import PROJECT_ROOT
from ops import realdata

BITEXT = [("where is my order 0000123456789", "track_order"), ("track purchase 5551234567", "track_order"),
          ("kindly call off my purchase 9991234567 asap", "cancel_order"), ("help me get a [refund]", "get_refund"),
          ("I want my money back", "get_refund"), ("how do I see my invoice", "check_invoice"),
          ("reimburse me for the damn thing", "get_refund")]
BANKING = [("My card has not arrived yet", "card_arrival"), ("still waiting on my card", "card_arrival"),
           ("How do I withdraw cash at an ATM?", "atm_support"), ("Which ATMs can I use?", "atm_support"),
           ("I was charged twice for one purchase", "transaction_charged_twice")]


MAPPING = yaml.safe_load((PROJECT_ROOT / "data/realdata/mapping.yml").read_text())


def _every_label(source: str, taken: set) -> list:
    """One row for each label the mapping decides on and the rows above lack (the corpus has them all)."""
    spec = MAPPING["sources"][source]
    labels = set(spec["map"]) | set(spec["left_out"]) | set(spec.get("out_of_scope") or [])
    return [(f"a question about {label.replace('_', ' ')} that stands for it here", label)
            for label in sorted(labels - taken)]


def _corpus(folder: Path, extra_tracking: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    def token(n: int) -> str:       # a made-up word per row, so the rows are not near copies of each other
        return "".join("abcdefghijklmnopqrstuvwxyz"[(n // 26 ** k) % 26] for k in range(3)) + "zz"

    rows = BITEXT + [(f"where is my {token(4 * i)} {token(4 * i + 1)} {token(4 * i + 2)} {token(4 * i + 3)}",
                      "track_order") for i in range(extra_tracking)]
    rows += _every_label("bitext", {label for _, label in BITEXT})
    banking = BANKING + _every_label("banking77", {label for _, label in BANKING})
    with open(folder / "bitext_customer_support.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "source_intent", "category", "tags"])
        writer.writerows([text, label, "X", "BW" if "damn" in text else "B"] for text, label in rows)
    with open(folder / "banking77_train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "source_intent"])
        writer.writerows(banking)
    return folder


def _project(tmp_path: Path) -> Path:
    """A copy of the parts of the project `make data` reads, with our own data left as it is."""
    root = tmp_path / "project"
    for part in ("data/nlu", "data/realdata", "data/frustration/raw", "tests/data"):
        shutil.copytree(PROJECT_ROOT / part, root / part)
    shutil.copy(PROJECT_ROOT / "domain.yml", root / "domain.yml")
    return root


def test_mapping_names_only_our_labels_and_says_why_a_label_is_left_out():
    mapping = yaml.safe_load((PROJECT_ROOT / "data/realdata/mapping.yml").read_text())
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    topics = {e.intent for e in examples(PROJECT_ROOT / "data/nlu/faq.yml", PROJECT_ROOT)}
    for source in mapping["sources"].values():
        for ours in source["map"].values():
            assert ours in domain["intents"] or ours in topics, ours
        assert all(isinstance(why, str) and len(why) > 10 for why in source["left_out"].values())
        assert not set(source["map"]) & set(source["left_out"])
        assert not set(source.get("out_of_scope") or []) & (set(source["map"]) | set(source["left_out"]))


def test_generated_files_map_clean_balance_and_keep_test_rows_away_from_training(tmp_path):
    root = _project(tmp_path)
    files = realdata.generate(_corpus(tmp_path / "corpus", extra_tracking=120), root)
    train = yaml.safe_load(files["data/nlu/realdata.yml"])["nlu"]
    by_intent = {block["intent"]: [line[2:] for line in block["examples"].splitlines()] for block in train}
    assert len(by_intent["order_status"]) == 80, "at most 80 per intent and source"
    assert "cancel_order" in by_intent and "delivery_problem" in by_intent and "out_of_scope" in by_intent
    assert not any("invoice" in text for texts in by_intent.values() for text in texts), "left out"
    assert by_intent["cancel_order"] == ["kindly call off my purchase CL-234567 asap"], "templated numbers become ours"
    assert all("[" not in text and "]" not in text for texts in by_intent.values() for text in texts)
    heldout = [line[6:] for name in ("tests/data/realdata_dev.yml", "tests/data/realdata_test.yml")
               for line in files[name].splitlines() if line.startswith("    - ")]
    assert heldout, "the rows not trained on become development and test rows"
    index = NearDuplicates([t for texts in by_intent.values() for t in texts])
    assert not [text for text in heldout if index.match(text)]
    real = yaml.safe_load(files["data/frustration/real.yml"])["sources"]
    assert real["bitext_support"]["frustrated"] == ["reimburse me for the damn thing"]


def test_the_same_corpus_gives_the_same_files(tmp_path):
    root = _project(tmp_path)
    corpus = _corpus(tmp_path / "corpus", extra_tracking=30)
    assert realdata.generate(corpus, root) == realdata.generate(corpus, root)


def test_a_missing_corpus_is_a_clear_error(tmp_path, capsys):
    assert realdata.main(["--source", str(tmp_path / "nowhere")]) == 2
    assert "CARELINE_REALDATA" in capsys.readouterr().err


def test_the_committed_files_are_what_the_mapping_generates_from_the_shared_corpora():
    """Regenerating from the corpora the files were made from must change nothing (when they are here)."""
    source = realdata.DEFAULT_SOURCE
    if not source.is_dir():      # a clone outside the workplace: the corpora are not shipped with the code
        assert (PROJECT_ROOT / "data/nlu/realdata.yml").read_text().startswith("# GENERATED by `make data`")
        return
    generated = realdata.generate(source)
    for name, text in generated.items():
        assert (PROJECT_ROOT / name).read_text(encoding="utf-8") == text, f"{name} is stale: run make data"


def test_mapping_mistakes_are_refused_with_the_line_to_fix(tmp_path):
    root = _project(tmp_path)
    corpus = _corpus(tmp_path / "corpus")
    path = root / "data/realdata/mapping.yml"
    original = path.read_text()
    cases = {
        "      track_order: order_status\n": ("      track_ordr: order_status\n", "has no label track_ordr"),
        "      complaint: complain\n": ("      complaint: complaints\n", "neither an intent"),
        "      review: ": ("      track_refund: x\n      review: ", "is in both"),
    }
    for old, (new, expected) in cases.items():
        path.write_text(original.replace(old, new, 1))
        with pytest.raises(ValueError, match=expected) as raised:
            realdata.generate(corpus, root)
        assert "data/realdata/mapping.yml:" in str(raised.value)
    path.write_text(original.replace("      review: ", "      # review: ", 1))
    with pytest.raises(ValueError, match="label review is not decided"):
        realdata.generate(corpus, root)


def test_changing_the_mapping_never_moves_a_row_into_or_out_of_the_test_split(tmp_path):
    root = _project(tmp_path)
    corpus = _corpus(tmp_path / "corpus", extra_tracking=200)

    def test_rows() -> set:
        text = realdata.generate(corpus, root)["tests/data/realdata_test.yml"]
        return {line[6:] for line in text.splitlines() if line.startswith("    - ")}

    before = test_rows()
    path = root / "data/realdata/mapping.yml"
    path.write_text(path.read_text().replace("      get_refund: request_refund\n", "", 1).replace(
        "      review: ", "      get_refund: \"dropped for this test\"\n      review: ", 1))
    after = test_rows()
    assert after <= before and before - after <= {"help me get a refund", "I want my money back"}, before - after
    assert any("where is my" in row for row in after), "the tracking rows' test rows stay where they were"
