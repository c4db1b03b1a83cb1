"""The desk's plain words: channel names, reasons, waiting times and the queue's filters."""
from __future__ import annotations

import pytest

from careline.desk import words
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
