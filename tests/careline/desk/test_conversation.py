"""The conversation as the desk shows it: what people saw, who said it, when, and the desk's own system lines."""
from __future__ import annotations

from datetime import datetime

from careline.desk import conversation
from careline.shared import transcript

T0 = 1_795_000_000.0  # 2026-11-18 ...

EVENTS = [
    {"event": "user", "text": "my lamp arrived broken", "timestamp": T0,
     "parse_data": {"intent": {"name": "request_refund"}, "frustration": {"score": 0.4}}},
    {"event": "bot", "text": "Sorry to hear that. Why would you like a refund?", "timestamp": T0 + 1,
     "data": {"buttons": [{"title": "It arrived damaged", "payload": '/inform{"refund_reason": "damaged"}'},
                          {"title": "Something else", "payload": "/deny"}]}},
    {"event": "user", "text": '/inform{"refund_reason": "damaged"}', "timestamp": T0 + 2},
    {"event": "bot", "text": "Ana joined the chat", "timestamp": T0 + 30,
     "metadata": {"agent": "Ana Rivera", "system": "joined"}},
    {"event": "bot", "text": "Hi, I'm Ana. Let me look.", "timestamp": T0 + 31, "metadata": {"agent": "Ana Rivera"}},
    {"event": "user", "text": "/deny", "timestamp": T0 + 40},
]


def test_lines_show_button_titles_who_said_it_and_leave_the_trackers_system_lines_to_the_desk():
    lines = conversation.from_tracker(transcript.lines(EVENTS))
    assert [(line["role"], line["who"], line["text"]) for line in lines] == [
        ("customer", "Customer", "my lamp arrived broken"),
        ("bot", "Bot", "Sorry to hear that. Why would you like a refund?"),
        ("customer", "Customer", "It arrived damaged"),
        ("agent", "Ana Rivera", "Hi, I'm Ana. Let me look."),
        ("customer", "Customer", "Something else"),
    ]
    assert lines[1]["buttons"] == ["It arrived damaged", "Something else"], "titles, never payloads"
    assert not any("/inform" in line["text"] or line["text"] == "/deny" for line in lines)
    assert lines[0]["at"] == T0 and lines[0]["iso"].endswith("+00:00") and lines[0]["clock"].endswith(" UTC")


def test_keys_are_stable_and_tell_lines_apart():
    first = [line["key"] for line in conversation.from_tracker(transcript.lines(EVENTS))]
    again = [line["key"] for line in conversation.from_tracker(transcript.lines(EVENTS))]
    assert first == again and len(set(first)) == len(first)


def test_the_desks_events_become_system_lines_in_time_order_and_notes_stay_apart():
    lines = conversation.from_tracker(transcript.lines(EVENTS))
    events = [
        {"ts": T0 + 29, "kind": "take", "agent": "Ana Rivera", "detail": ""},
        {"ts": T0 + 35, "kind": "note", "agent": "Ana Rivera", "detail": "She sounds upset: offer goodwill"},
        {"ts": T0 + 36, "kind": "reply", "agent": "Ana Rivera", "detail": "Hi, I'm Ana. Let me look."},
        {"ts": T0 + 50, "kind": "handback", "agent": "Ana Rivera", "detail": ""},
        {"ts": T0 + 60, "kind": "close", "agent": "Sam Okafor", "detail": ""},
    ]
    merged = conversation.merged(lines, events)
    texts = [line["text"] for line in merged]
    assert texts == ["my lamp arrived broken", "Sorry to hear that. Why would you like a refund?", "It arrived damaged",
                     "Ana Rivera joined", "Hi, I'm Ana. Let me look.", "Something else",
                     "Ana Rivera handed back to the bot", "Sam Okafor closed the conversation"]
    assert [line["system"] for line in merged if line["role"] == "system"] == ["take", "handback", "close"]
    assert "She sounds upset" not in " ".join(texts), "a note never shows in the customer's transcript"
    notes = conversation.notes(events)
    assert [(n["agent"], n["text"]) for n in notes] == [("Ana Rivera", "She sounds upset: offer goodwill")]


def test_a_system_line_of_the_same_second_comes_after_the_message_and_one_without_time_last():
    lines = conversation.from_tracker(transcript.lines(EVENTS[:1]))
    merged = conversation.merged(lines, [{"ts": T0, "kind": "take", "agent": "Ana"},
                                         {"at": "not a time", "kind": "close", "agent": "Ana"}])
    assert [line["text"] for line in merged] == ["my lamp arrived broken", "Ana joined", "Ana closed the conversation"]


def test_event_times_read_from_iso_utc_when_there_is_no_unix_time():
    assert conversation.event_at({"at": "2026-11-20T10:00:00+00:00"}) == conversation.event_at(
        {"at": "2026-11-20T10:00:00"}) == datetime.fromisoformat("2026-11-20T10:00:00+00:00").timestamp()


def test_the_saved_copy_reads_as_the_live_one():
    saved = [{"role": "customer", "text": "hello", "at": datetime.fromtimestamp(T0).isoformat(timespec="seconds")},
             {"role": "bot", "text": "Hi!", "at": datetime.fromtimestamp(T0 + 1).isoformat(timespec="seconds")},
             {"role": "bot", "text": "", "at": None}]
    lines = conversation.from_saved(saved)
    assert [(line["who"], line["text"], line["at"]) for line in lines] == [("Customer", "hello", T0),
                                                                         ("Bot", "Hi!", T0 + 1)]


def test_moments_for_time_elements():
    assert conversation.moment("2026-11-20T10:04:09+00:00") == {"iso": "2026-11-20T10:04:09+00:00",
                                                                "label": "2026-11-20 10:04 UTC"}
    assert conversation.moment("garbage")["iso"] == ""


# --- the gist: what tells an unverified customer's row apart in the queue ---------------------------------


def _said(text, intent):
    return {"role": "customer", "text": text, "at": "2026-11-18T10:00:00+00:00", "intent": intent}


def test_the_gist_is_the_first_words_of_what_the_customer_needs():
    saved = [_said("hi", "greet"),
             _said("my lamp arrived broken and the shade is torn too, what now", "request_refund"),
             {"role": "bot", "text": "Why would you like a refund?", "at": ""},
             _said("It arrived damaged", "inform"), _said("Talk to a person", "human_handoff")]
    assert conversation.gist(saved) == "my lamp arrived broken and the shade is…"
    assert conversation.gist(saved, words=3) == "my lamp arrived…"
    assert conversation.gist([_said("where   is\nmy order", "order_status")]) == "where is my order", "one line"


def test_without_a_telling_message_the_gist_is_the_latest_and_without_any_it_is_empty():
    assert conversation.gist([_said("hello", "greet"), _said("a human please", "human_handoff")]) == "a human please"
    assert conversation.gist([{"role": "bot", "text": "Hi!", "at": ""}]) == ""
    assert conversation.gist([]) == ""


def test_a_long_word_is_cut_at_the_limit():
    gist = conversation.gist([_said("x" * 200, "order_status")])
    assert len(gist) == conversation.GIST_CHARS and gist.endswith("…")
