"""The review/label round trip on a real Rasa SQL tracker store and a copy of the project's data."""
from __future__ import annotations

import asyncio
import shutil
import sys

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from careline.shared.settings import PROJECT_ROOT
from ops import review

PREDICTED = {
    "ship it to my office pls": ("nlu_fallback", 0.3, [("nlu_fallback", 0.4), ("change_address", 0.3)]),
    "Ship it to my office PLS!": ("nlu_fallback", 0.3, [("nlu_fallback", 0.4), ("change_address", 0.3)]),
    "my card 4111 1111 1111 1111 got charged twice": ("dispute_charge", 0.45, []),
    "where is my order": ("order_status", 0.97, []),
    "get me a manager, jane@example.com": ("complain", 0.8, []),
}


def _user(text: str) -> UserUttered:
    intent, confidence, ranking = PREDICTED[text]
    ranked = [{"name": n, "confidence": c} for n, c in ranking] or [{"name": intent, "confidence": confidence}]
    return UserUttered(text, intent={"name": intent, "confidence": confidence},
                       parse_data={"text": text, "intent": {"name": intent, "confidence": confidence},
                                   "intent_ranking": ranked, "entities": []})


@pytest.fixture
def tracker_store(tmp_path, monkeypatch):
    path = tmp_path / "tracker.db"
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    conversations = {
        "a": [_user("ship it to my office pls"), _user("where is my order")],
        "b": [_user("Ship it to my office PLS!"), _user("my card 4111 1111 1111 1111 got charged twice")],
        "c": [_user("get me a manager, jane@example.com"), ActionExecuted("action_handoff")],
    }
    for sender, events in conversations.items():
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
    monkeypatch.setenv("CARELINE_TRACKER_DB_URL", f"sqlite:///{path}")
    return store


@pytest.fixture
def project(tmp_path):
    """A copy of the parts of the project that labelling reads and writes."""
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    shutil.copytree(PROJECT_ROOT / "tests" / "data", root / "tests" / "data")
    shutil.copy(PROJECT_ROOT / "domain.yml", root / "domain.yml")
    for code in ("actions", "careline", "channels", "components"):  # where the responses the code renders are named
        shutil.copytree(PROJECT_ROOT / code, root / code, ignore=shutil.ignore_patterns("__pycache__", "static"))
    return root


def test_export_keeps_unsure_fallback_and_handoff_messages_redacted_and_deduplicated(tracker_store, tmp_path):
    out = tmp_path / "review.yml"
    assert review.export(out, min_confidence=0.6) == 0
    document = yaml.safe_load(out.read_text())
    groups = document["by_predicted_intent"]
    assert set(groups) == {"change_address", "dispute_charge", "complain"}
    address = groups["change_address"]
    assert len(address) == 1 and address[0]["seen"] == 2 and address[0]["why"] == "fallback"
    assert "[card number]" in groups["dispute_charge"][0]["text"] and "4111" not in out.read_text()
    assert groups["complain"][0]["why"] == "handoff" and "[email]" in groups["complain"][0]["text"]
    assert "where is my order" not in out.read_text(), "confident messages need no label"
    assert "order_status" in document["intents"] and "faq/warranty" in document["intents"]


def test_labelled_messages_are_merged_and_validated_or_rolled_back(tracker_store, project, tmp_path):
    out = tmp_path / "review.yml"
    review.export(out, min_confidence=0.6)
    document = yaml.safe_load(out.read_text())
    groups = document["by_predicted_intent"]
    groups["change_address"][0]["intent"] = "change_address"
    groups["dispute_charge"][0]["intent"] = "dispute_charge"
    groups["complain"][0]["intent"] = "skip"
    out.write_text(yaml.safe_dump(document))
    check = ["env", f"PYTHONPATH={PROJECT_ROOT}", sys.executable, "-m", "ops.check_data", "--root", str(project)]
    assert review.label(out, check, root=project) == 0
    added = (project / "data" / "nlu" / "reviewed.yml").read_text()
    assert "ship it to my office pls" in added.lower() and "- intent: dispute_charge" in added
    assert "manager" not in added
    assert review.label(out, check, root=project) == 0, "labelling twice adds nothing"
    assert (project / "data" / "nlu" / "reviewed.yml").read_text() == added

    groups["complain"][0]["intent"] = "complain"
    out.write_text(yaml.safe_dump(document))
    assert review.label(out, ["false"], root=project) == 1, "a failed validation"
    assert (project / "data" / "nlu" / "reviewed.yml").read_text() == added, "... takes the new examples out"

    groups["complain"][0]["intent"] = "compliment"
    out.write_text(yaml.safe_dump(document))
    assert review.label(out, check, root=project) == 1, "unknown intents are refused"
