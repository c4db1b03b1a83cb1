"""make validate keeps test data honest: no test or development message equals or nearly equals a
training example, and a frozen test set never changes."""
from __future__ import annotations

import hashlib
from pathlib import Path

from careline.nlu.datacheck import Example
from ops.check_data import frozen_problems, labelled_lists, near_duplicates, run

DOMAIN = """version: "3.1"
intents:
  - greet
responses:
  utter_greet:
    - text: "hi"
"""
GREETS = [f"hello there friend {word}" for word in (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
    "quebec romeo sierra tango").split()]


def _intent(name: str, texts) -> str:
    return f"- intent: {name}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)


def _project(tmp_path: Path, tests: dict) -> Path:
    for folder in ("data/nlu", "data/rules", "tests/data", "actions", "components"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "domain.yml").write_text(DOMAIN)
    (tmp_path / "data/nlu/basics.yml").write_text('version: "3.1"\nnlu:\n' + _intent("greet", GREETS))
    (tmp_path / "data/rules/basics.yml").write_text(
        'version: "3.1"\nrules:\n- rule: hi\n  steps:\n  - intent: greet\n  - action: utter_greet\n')
    for name, text in tests.items():
        (tmp_path / "tests/data" / name).write_text(text)
    return tmp_path


def test_equal_and_nearly_equal_test_messages_are_reported_at_both_lines():
    training = [Example("greet", "thanks so much for your help", "data/nlu/basics.yml", 7),
                Example("greet", "where is my order [CL-100001](order_id)", "data/nlu/orders.yml", 12)]
    tests = [Example("greet", "Thanks so much for your help!", "tests/data/nlu_frozen.yml", 3),
             Example("greet", "ok thanks so much for your help", "tests/data/realdata_dev.yml", 40),
             Example("greet", "where is my order CL-999999", "tests/data/nlu_heldout.yml", 9),
             Example("greet", "something else entirely, about lamps", "tests/data/nlu_heldout.yml", 10)]
    assert [str(p) for p in near_duplicates(training, tests)] == [
        "data/nlu/basics.yml:7: training example 'thanks so much for your help' equals the test message at "
        "tests/data/nlu_frozen.yml:3 ('Thanks so much for your help!'): drop it or say the need in other words",
        "data/nlu/basics.yml:7: training example 'thanks so much for your help' nearly equals the test message at "
        "tests/data/realdata_dev.yml:40 ('ok thanks so much for your help'): drop it or say the need in other words",
        "data/nlu/orders.yml:12: training example 'where is my order [CL-100001](order_id)' equals the test message at "
        "tests/data/nlu_heldout.yml:9 ('where is my order CL-999999'): drop it or say the need in other words",
    ]


def test_validate_checks_every_nlu_and_realdata_set(tmp_path):
    root = _project(tmp_path, {
        "nlu_heldout.yml": 'version: "3.1"\nnlu:\n' + _intent("greet", ["good morning to you"]),
        "nlu_frozen.yml": 'version: "3.1"\nnlu:\n' + _intent("greet", ["hello there friend alpha!"]),
        "realdata_test.yml": 'version: "3.1"\nnlu:\n' + _intent("greet", ["why hello there friend tango"]),
        "other.yml": 'version: "3.1"\nnlu:\n' + _intent("greet", ["hello there friend alpha"]),
    })
    (root / "tests/data/FROZEN.sha256").write_text(
        f"{hashlib.sha256((root / 'tests/data/nlu_frozen.yml').read_bytes()).hexdigest()}  tests/data/nlu_frozen.yml\n")
    problems = [str(p) for p in run(root)]
    assert problems == [
        "data/nlu/basics.yml:5: training example 'hello there friend alpha' equals the test message at "
        "tests/data/nlu_frozen.yml:5 ('hello there friend alpha!'): drop it or say the need in other words",
        "data/nlu/basics.yml:24: training example 'hello there friend tango' nearly equals the test message at "
        "tests/data/realdata_test.yml:5 ('why hello there friend tango'): drop it or say the need in other words",
    ], "other.yml is no test set; the frozen set's hash matches"


def test_frustration_test_sets_are_checked_against_frustration_training(tmp_path):
    root = _project(tmp_path, {"frustration_frozen.yml": 'frustrated:\n  - "this is the worst shop, really"\n'
                                                         'calm:\n  - where is my lamp\n'})
    (root / "data/frustration").mkdir(parents=True)
    (root / "data/frustration/train.yml").write_text("# labelled\nfrustrated:\n  - this is the worst shop really\n"
                                                     "calm:\n  - hello\n")
    (root / "tests/data/FROZEN.sha256").write_text(
        f"{hashlib.sha256((root / 'tests/data/frustration_frozen.yml').read_bytes()).hexdigest()}  "
        "tests/data/frustration_frozen.yml\n")
    assert [str(p) for p in run(root)] == [
        "data/frustration/train.yml:3: training example 'this is the worst shop really' equals the test message at "
        "tests/data/frustration_frozen.yml:2 ('this is the worst shop, really'): drop it or say the need in other "
        "words"]
    found = labelled_lists(root / "tests/data/frustration_frozen.yml", root)
    assert [(e.intent, e.text, e.line) for e in found] == [("frustrated", "this is the worst shop, really", 2),
                                                          ("calm", "where is my lamp", 4)]


def _frozen(tmp_path: Path) -> Path:
    (tmp_path / "tests/data").mkdir(parents=True)
    frozen = tmp_path / "tests/data/nlu_frozen.yml"
    frozen.write_text('version: "3.1"\nnlu:\n' + _intent("greet", ["hi there"]))
    digest = hashlib.sha256(frozen.read_bytes()).hexdigest()
    (tmp_path / "tests/data/FROZEN.sha256").write_text(f"{digest}  tests/data/nlu_frozen.yml\n")
    return frozen


def test_an_unchanged_frozen_set_passes(tmp_path):
    _frozen(tmp_path)
    assert frozen_problems(tmp_path) == []


def test_an_edited_frozen_set_fails(tmp_path):
    frozen = _frozen(tmp_path)
    frozen.write_text(frozen.read_text().replace("hi there", "hi there!"))
    problems = [str(p) for p in frozen_problems(tmp_path)]
    assert len(problems) == 1 and problems[0].startswith(
        "tests/data/nlu_frozen.yml:1: frozen test set changed: tests/data/nlu_frozen.yml")
    assert "never edit a test set after a model has run on it; write a new one" in problems[0]


def test_a_deleted_or_unlisted_frozen_set_fails_and_a_bad_line_is_named(tmp_path):
    frozen = _frozen(tmp_path)
    frozen.unlink()
    (tmp_path / "tests/data/frustration_frozen.yml").write_text("frustrated: []\ncalm: []\n")
    manifest = tmp_path / "tests/data/FROZEN.sha256"
    manifest.write_text(manifest.read_text() + "not a hash  somewhere.yml\n")
    problems = [str(p) for p in frozen_problems(tmp_path)]
    assert problems[0] == "tests/data/FROZEN.sha256:2: not a `sha256  path` line"
    assert problems[1].startswith("tests/data/FROZEN.sha256:1: frozen test set tests/data/nlu_frozen.yml is gone")
    assert problems[2].startswith("tests/data/frustration_frozen.yml:1: frozen test set "
                                  "tests/data/frustration_frozen.yml has no hash in tests/data/FROZEN.sha256")


def test_the_manifest_reads_sha256sum_output(tmp_path):
    frozen = _frozen(tmp_path)
    digest = hashlib.sha256(frozen.read_bytes()).hexdigest()
    (tmp_path / "tests/data/FROZEN.sha256").write_text(f"# written by sha256sum\n{digest} *tests/data/nlu_frozen.yml\n")
    assert frozen_problems(tmp_path) == []


def test_frustration_lists_may_be_nested_or_unindented(tmp_path):
    path = tmp_path / "real.yml"
    path.write_text("# generated\nsources:\n  corpus:\n    frustrated:\n    - 'so angry: again'\n    calm:\n"
                    "    - fine thanks\nfrustrated:\n- top level item\n")
    assert [(e.intent, e.text, e.line) for e in labelled_lists(path, tmp_path)] == [
        ("sources", "so angry: again", 5), ("sources", "fine thanks", 7), ("frustrated", "top level item", 9)]


def test_a_development_message_near_a_test_message_is_reported_at_the_development_line():
    from careline.nlu.datacheck import Example
    from ops.check_data import development_near_tests

    messages = [Example("greet", "hello, how are you doing today?", "tests/data/nlu_frozen.yml", 4),
                Example("greet", "how are you doing today", "tests/data/nlu_fresh_dev.yml", 9),
                Example("greet", "hey", "tests/data/nlu_heldout.yml", 3),
                Example("order_status", "where's my orders", "tests/data/realdata_dev.yml", 5),
                Example("order_status", "where is my order", "tests/data/realdata_test.yml", 7)]
    assert [str(p) for p in development_near_tests(messages)] == [
        "tests/data/nlu_fresh_dev.yml:9: development message 'how are you doing today' nearly equals the test "
        "message at tests/data/nlu_frozen.yml:4 ('hello, how are you doing today?'): drop it from the development "
        "set (what is tuned on it would be tuned on the test)",
        "tests/data/realdata_dev.yml:5: development message 'where's my orders' equals the test message at "
        "tests/data/realdata_test.yml:7 ('where is my order'): drop it from the development set (what is tuned "
        "on it would be tuned on the test)"]
