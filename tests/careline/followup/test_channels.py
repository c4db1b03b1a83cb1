"""Which channels may write first: the one decision, and that it names the channels as they are."""
from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone

import pytest

from careline.followup import may_write_first
from careline.followup.channels import (
    CHANNEL_CANNOT_WRITE_FIRST,
    MESSENGER,
    MESSENGER_WINDOW_CLOSED,
    REST,
    WEBSITE,
)
from careline.shared import PROJECT_ROOT

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("channel", [WEBSITE, REST])
def test_the_website_and_rest_may_always_write_first(channel):
    assert may_write_first(channel, None, NOW).allowed
    assert may_write_first(channel, NOW - timedelta(days=30), NOW).allowed


def test_messenger_only_within_the_24_hour_window_with_a_margin():
    assert may_write_first(MESSENGER, NOW - timedelta(hours=1), NOW).allowed
    assert may_write_first(MESSENGER, NOW - timedelta(hours=23, minutes=40), NOW).allowed
    for ago in (timedelta(hours=23, minutes=55), timedelta(hours=24), timedelta(days=5)):
        verdict = may_write_first(MESSENGER, NOW - ago, NOW)
        assert not verdict.allowed and verdict.reason == MESSENGER_WINDOW_CLOSED
    assert may_write_first(MESSENGER, None, NOW).reason == MESSENGER_WINDOW_CLOSED


@pytest.mark.parametrize("channel", [None, "", "cmdline", "slack"])
def test_any_other_channel_may_not(channel):
    verdict = may_write_first(channel, NOW - timedelta(minutes=1), NOW)
    assert not verdict.allowed and verdict.reason == CHANNEL_CANNOT_WRITE_FIRST


def _channel_names():
    """The names the input channels give themselves (`def name(cls): return "..."`), read from channels/."""
    names = {}
    for path in sorted((PROJECT_ROOT / "channels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Input"):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "name":
                        returned = [n.value.value for n in ast.walk(item) if isinstance(n, ast.Return)
                                    and isinstance(n.value, ast.Constant)]
                        names[node.name] = returned[0]
    return names


def test_the_channel_names_are_the_input_channels_own():
    assert _channel_names() == {"WebChatInput": WEBSITE, "RestInput": REST, "MessengerInput": MESSENGER}
