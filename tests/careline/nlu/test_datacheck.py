"""The project's own data checks, on small projects written for each case."""
from __future__ import annotations

from pathlib import Path

from ops.check_data import run

DOMAIN = """version: "3.1"
intents:
  - greet
  - faq
forms:
  feedback_form:
    required_slots:
      - feedback_rating
responses:
  utter_greet:
    - text: "hi"
  utter_ask_feedback_rating:
    - text: "rate us"
  utter_faq/hours:
    - text: "9 to 5"
"""


def _project(tmp_path: Path, nlu: str, rules: str = "", heldout: str = "", domain: str = DOMAIN) -> Path:
    for folder in ("data/nlu", "data/rules", "tests/data", "actions", "components"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "domain.yml").write_text(domain)
    (tmp_path / "data/nlu/basics.yml").write_text('version: "3.1"\nnlu:\n' + nlu)
    rules = rules or "- rule: hi\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
    (tmp_path / "data/rules/basics.yml").write_text('version: "3.1"\nrules:\n' + rules)
    (tmp_path / "tests/data/nlu_heldout.yml").write_text('version: "3.1"\nnlu:\n' + heldout)
    return tmp_path


def _intent(name: str, texts) -> str:
    return f"- intent: {name}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)


GREETS = [f"hello number {i}" for i in range(20)]
HOURS = [f"when do you open {i}" for i in range(10)]


def test_a_clean_project_passes(tmp_path):
    assert run(_project(tmp_path, _intent("greet", GREETS) + _intent("faq/hours", HOURS))) == []


def test_too_few_examples_point_at_the_intent(tmp_path):
    problems = run(_project(tmp_path, _intent("greet", GREETS[:5]) + _intent("faq/hours", HOURS)))
    assert [str(p) for p in problems] == [
        "data/nlu/basics.yml:3: intent greet has 5 examples; it needs at least 20"]


def test_an_example_in_two_intents_names_both_places(tmp_path):
    nlu = _intent("greet", GREETS) + _intent("faq/hours", HOURS[:-1] + ["Hello, number 3!"])
    problems = [str(p) for p in run(_project(tmp_path, nlu))]
    assert problems == ["data/nlu/basics.yml:36: 'Hello, number 3!' (faq/hours) is also an example of greet "
                        "at data/nlu/basics.yml:8"]


def test_entity_markup_does_not_hide_a_duplicate(tmp_path):
    nlu = _intent("greet", GREETS[:-1] + ["order [CL-1](order_id)"]) + _intent("faq/hours", HOURS[:-1] + ["order CL-1"])
    assert any("is also an example of greet" in str(p) for p in run(_project(tmp_path, nlu)))


def test_unused_and_missing_responses_and_unanswered_topics(tmp_path):
    nlu = _intent("greet", GREETS) + _intent("faq/hours", HOURS) + _intent("faq/parking", HOURS)
    rules = "- rule: hi\n  steps:\n  - intent: greet\n  - action: utter_hello\n"
    problems = [str(p) for p in run(_project(tmp_path, nlu, rules=rules))]
    assert "domain.yml:10: response utter_greet is never used by a rule, story, form or action" in problems
    assert "data/rules/basics.yml:6: utter_hello is used but the domain has no such response" in problems
    assert any(p.endswith("FAQ topic faq/parking has no answer utter_faq/parking in domain.yml") for p in problems)
    assert not any("utter_ask_feedback_rating" in p for p in problems), "forms ask with utter_ask_<slot>"


def test_held_out_examples_must_not_be_training_examples(tmp_path):
    nlu = _intent("greet", GREETS) + _intent("faq/hours", HOURS)
    problems = [str(p) for p in run(_project(tmp_path, nlu, heldout=_intent("greet", ["HELLO number 7", "hey you"])))]
    assert problems == ["data/nlu/basics.yml:5: training example 'hello number 0' equals the test message at "
        "tests/data/nlu_heldout.yml:5 ('HELLO number 7'): drop it or say the need in other "
        "words"], "numbers are placeholders, as the model sees them"


def test_lexicon_problems_point_at_their_lines(tmp_path):
    from careline.nlu.datacheck import lexicon_problems

    (tmp_path / "data").mkdir(exist_ok=True)
    lexicon = tmp_path / "data" / "lexicon.yml"
    lexicon.write_text("concepts:\n"
                       "  yes:\n"
                       "    - \"yeah\"\n"
                       "  agreeing:\n"
                       "    - no\n"
                       "    - \"sure\"\n"
                       "    - \"Sure\"\n"
                       "    - \"ref*und\"\n"
                       "    - \"gift card*\"\n")
    assert [str(p) for p in lexicon_problems(lexicon, tmp_path)] == [
        "data/lexicon.yml:2: concept name 'yes': use lower-case letters, digits and _ (YAML reads yes/no/on/off "
        "as true/false)",
        'data/lexicon.yml:5: entry no must be quoted ("no"): YAML reads it as true/false',
        "data/lexicon.yml:7: 'Sure' is already in concept agreeing (line 6)",
        "data/lexicon.yml:8: 'ref*und': `*` works only once, at the end of a word",
    ]
    assert lexicon_problems(tmp_path / "missing.yml", tmp_path) == []


def test_the_project_lexicon_is_well_formed():
    from careline.nlu.datacheck import lexicon_problems
    from careline.shared.settings import PROJECT_ROOT

    assert lexicon_problems(PROJECT_ROOT / "data" / "lexicon.yml", PROJECT_ROOT) == []
