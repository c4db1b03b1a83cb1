"""The desk's plain words: channel names, reasons, waiting times, the queue's filters, the desk history's
events as sentences and the tag that tells conversations apart."""
from __future__ import annotations

import re

import pytest

from careline.desk import words
from careline.desk.money_view import describe_event
from careline.handoff import CONTACT_EMAIL
from careline.handoff.ticket import REASON_BASE_PRIORITY, REASON_LABELS


@pytest.mark.parametrize("code, name", [("socketio", "Website chat"), ("facebook", "Messenger"), ("rest", "API"),
                                        ("unknown", "Unknown"), (None, "Unknown"), ("sms", "sms")])
def test_channels_have_the_names_agents_know(code, name):
    assert words.channel_name(code) == name


def test_every_handoff_reason_has_a_short_title_in_plain_words():
    assert set(words.REASON_TITLES) == set(REASON_LABELS) == set(REASON_BASE_PRIORITY), \
        "a new handoff reason needs its queue title in careline/desk/words.py"
    assert all("_" not in title and title[0].isupper() for title in words.REASON_TITLES.values())
    assert words.reason_title("frustration") == "Frustrated customer"
    assert words.reason_title("brand_new_reason") == "Brand new reason"


@pytest.mark.parametrize("seconds, text", [(0, "under 1 min"), (59, "under 1 min"), (60, "1 min"),
                                           (4 * 60 + 59, "4 min"),
                                           (3599, "59 min"), (3600, "1 h 00 min"), (3900, "1 h 05 min"),
                                           (23 * 3600 + 59 * 60, "23 h 59 min"), (2 * 86400 + 3 * 3600, "2 d 3 h"),
                                           (-5, "under 1 min")])
def test_waiting_times_read_as_people_say_them(seconds, text):
    assert words.waiting(seconds) == text


def test_the_show_filter_is_one_of_three_and_all_by_default():
    assert list(words.SHOW_FILTERS) == ["all", "mine", "unassigned"]
    assert [words.show_filter(v) for v in ("mine", "unassigned", "all", None, "", "MINE", "<script>")] == \
        ["mine", "unassigned", "all", "all", "all", "all", "all"]
    assert set(words.EMPTY_QUEUE) == set(words.SHOW_FILTERS)


# --- the desk history's events, in words -------------------------------------------------------------------


@pytest.mark.parametrize("kind, agent, detail, text", [
    ("take", "Ana Rivera", "", "Ana Rivera took the conversation"),
    ("take", "Ana Rivera", words.TAKEN_BY_REPLYING, "Ana Rivera took the conversation by sending the first reply"),
    ("reply", "Ana Rivera", "Hi Maria,\n  one moment.", "Ana Rivera replied: “Hi Maria, one moment.”"),
    ("note", "Ana Rivera", "secret team note", "Ana Rivera added an internal note"),
    ("handback", "Ana Rivera", "", "Ana Rivera resolved it and handed the conversation back to the bot"),
    ("close", "Sam Okafor", "", "Sam Okafor closed the conversation"),
    ("close", None, "", "The bot closed the conversation"),
    ("brand_new_kind", None, "", "The bot: brand new kind"),
    ("brand_new_kind", "Ana Rivera", "why", "Ana Rivera: brand new kind (why)"),
])
def test_desk_events_read_as_sentences(kind, agent, detail, text):
    assert words.event_text(kind, agent, detail) == text


def test_a_note_is_never_quoted_in_the_history_and_a_long_reply_is_cut():
    assert "secret" not in words.event_text("note", "Ana Rivera", "secret")
    long = words.event_text("reply", "Ana Rivera", "word " * 100)
    assert len(long) < 160 and long.endswith("…”")


def test_no_event_reads_none_or_a_code():
    for kind in (*words.EVENT_VERBS, "refund", "goodwill", "waiver", CONTACT_EMAIL, "some_code"):
        for detail in ("", None):
            text = words.event_text(kind, None, detail)
            assert "None" not in text and "_" not in text and text[0].isupper(), (kind, text)


def test_a_money_event_is_described_by_the_money_view():
    detail = ('{"kind": "refund", "outcome": "approve", "amount": "28.95", "rule": "within_limit", '
              '"reference": "RF-000012", "authority": "agent", "why": "within an agent\'s refund limit"}')
    assert words.event_text("refund", "Ana Rivera", detail) == f"Ana Rivera: {describe_event('refund', detail)}"
    assert "{" not in words.event_text("refund", "Ana Rivera", detail)


def test_the_email_a_customer_left_is_a_sentence_and_the_address_only_when_asked():
    said = words.event_text(CONTACT_EMAIL, None, "maria@example.com")
    assert said == ("The customer left an email address for the reply "
                    "(replies they do not see go there too).")
    assert "maria@example.com" not in said and "None" not in said
    assert words.event_text(CONTACT_EMAIL, None, "maria@example.com", show_address=True).endswith(
        ": maria@example.com.")


def test_a_conversation_tag_tells_conversations_apart_without_showing_the_id():
    tag = words.conversation_tag("+14155550134")
    assert re.fullmatch(r"#[0-9A-F]{4}", tag) and "0134" not in tag
    assert tag == words.conversation_tag("+14155550134"), "the same conversation, the same tag"
    assert len({words.conversation_tag(f"web-{n}") for n in range(50)}) >= 45
