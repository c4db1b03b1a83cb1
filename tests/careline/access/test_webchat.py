"""What the website widget is told about each message: who speaks, when, which tracking numbers are
links (live and in the history), and the desk's pokes (careline.access.webchat)."""
from __future__ import annotations

import json

import pytest

from careline.access import webchat
from careline.shared import PROJECT_ROOT, load_shop, render

CARRIERS = load_shop(PROJECT_ROOT / "shop.yml").carriers
TRACKING = "It's on its way " + render("utter_order_tracking", carrier="FedEx", tracking_number="FE4455667788") + "."


def _bot(text, at, buttons=None, **metadata):
    return {"event": "bot", "text": text, "timestamp": at, "data": {"buttons": buttons} if buttons else {},
            "metadata": metadata}


def _user(text, at, display=None):
    return {"event": "user", "text": text, "timestamp": at, "metadata": {"display": display} if display else {},
            "parse_data": {"intent": {"name": "order_status"}, "frustration": {"score": 0.8}}}


EVENTS = [
    _user("where is CL-100001", 100.0),
    _bot(TRACKING, 101.0),
    _user("a person please", 102.0),
    _bot("Is that a yes?", 103.0, [{"title": "Yes", "payload": "/affirm"}]),
    _user("/affirm", 104.0),
    _bot(render("utter_agent_joined", agent="Ana"), 105.0, agent="Ana Rivera", system="joined"),
    _bot("Hi, Ana here. Your parcel: UPS tracking number UP1234567890.", 106.0, agent="Ana Rivera"),
    _bot("Anything else?", 107.0, [{"title": "No, thanks", "payload": "/deny"}]),
    {"event": "action", "name": "action_listen", "timestamp": 107.5},
]


def test_history_says_who_spoke_when_with_button_titles_links_and_only_the_latest_buttons():
    items = webchat.history(EVENTS, CARRIERS)
    assert [(i["role"], i["at"]) for i in items] == [
        ("customer", 100.0), ("bot", 101.0), ("customer", 102.0), ("bot", 103.0), ("customer", 104.0),
        ("system", 105.0), ("agent", 106.0), ("bot", 107.0)]
    assert items[4]["text"] == "Yes", "the clicked button's title, never its payload"
    joined, agent = items[5], items[6]
    assert (joined["text"], joined["agent"], joined["initials"], joined["system"]) == \
        ("Ana joined the chat", "Ana Rivera", "AR", "joined")
    assert (agent["agent"], agent["initials"]) == ("Ana Rivera", "AR") and "system" not in agent
    assert agent["links"] == [{"text": "UP1234567890",
                               "url": "https://www.ups.com/track?loc=en_US&tracknum=UP1234567890"}]
    assert items[1]["links"][0]["text"] == "FE4455667788" and items[1]["links"][0]["url"].startswith("https://www.fedex")
    assert [i.get("buttons") for i in items] == [None] * 7 + [[{"title": "No, thanks", "payload": "/deny"}]]
    assert all(set(i) <= {"role", "text", "at", "agent", "initials", "system", "buttons", "image", "links"}
               for i in items), "nothing of the NLU's reading (intent, frustration) reaches the customer"
    assert "links" not in webchat.history(EVENTS)[1], "no carriers, no links"


def test_a_live_bot_message_carries_its_speaker_time_and_links():
    message = {"timestamp": 106.0, "agent": "  Ana   Rivera ", "system": "joined", "utter_action": "x"}
    fields = webchat.bot_fields("UPS tracking number UP1234567890", message, CARRIERS)
    assert fields == {"agent": "Ana Rivera", "initials": "AR", "system": "joined", "at": 106.0,
                      "links": [{"text": "UP1234567890",
                                 "url": "https://www.ups.com/track?loc=en_US&tracknum=UP1234567890"}]}
    plain = webchat.bot_fields("Hello", {"timestamp": 5.0}, CARRIERS)
    assert plain == {"at": 5.0}, "the bot's own messages: no agent, no links"
    assert webchat.speaker({"agent": "Ana", "system": "<b>hacked</b>"}) == {"agent": "Ana", "initials": "A"}
    assert webchat.speaker({"system": "joined"}) == {}, "a system line is always an agent's"
    assert webchat.speaker({"agent": ["Ana"]}) == {} and webchat.speaker(None) == {}
    assert len(webchat.speaker({"agent": "A" * 500})["agent"]) == webchat.MAX_AGENT_NAME
    assert webchat.bot_fields("x", {"timestamp": float("nan")}, ())["at"] > 1_700_000_000, "no time: now"


def test_the_desks_pokes_are_read_strictly():
    typing = webchat.agent_event({"conversation_id": "web-abc", "kind": "typing", "agent": "Ana Rivera",
                                  "typing": True})
    assert typing is not None and typing.for_the_widget
    assert typing.typing_event() == {"agent": "Ana Rivera", "initials": "AR", "typing": True}
    state = webchat.agent_event({"conversation_id": "web-abc", "kind": "state"})
    assert state is not None and state.kind == "state"
    assert not webchat.agent_event({"conversation_id": "fb-123", "kind": "state"}).for_the_widget
    for bad in (None, [], "x", {"kind": "state"}, {"conversation_id": "", "kind": "state"},
                {"conversation_id": "web-a b", "kind": "state"}, {"conversation_id": "x" * 200, "kind": "state"},
                {"conversation_id": "web-a", "kind": "delete"},
                {"conversation_id": "web-a", "kind": "typing", "typing": True},
                {"conversation_id": "web-a", "kind": "typing", "agent": "Ana", "typing": "yes"},
                {"conversation_id": "web-a", "kind": "typing", "agent": " ", "typing": False}):
        assert webchat.agent_event(bad) is None, json.dumps(bad)


@pytest.mark.parametrize("given, ok", [("s3cret-token", True), ("s3cret-tokem", False), ("", False),
                                        (None, False), (["s3cret-token"], False), ("s3cret-token\ud800", False)])
def test_the_poke_route_needs_the_rasa_token(given, ok):
    assert webchat.token_matches("s3cret-token", given) is ok
    assert not webchat.token_matches("", given), "no token configured: nobody may poke"
