"""Saved replies: the shipped macros.yml is valid, placeholders are filled per ticket or the reply is disabled
with the reason, and a supervisor's edit is read without a restart."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from careline.desk import macros
from careline.desk.service import MAX_TEXT


def test_the_shipped_macros_are_valid_and_use_every_placeholder():
    loaded = macros.load()
    assert loaded and len({m.name for m in loaded}) == len(loaded)
    used = {name for macro in loaded for name in macro.placeholders}
    assert used == set(macros.PLACEHOLDERS), "every placeholder is shown in use"


def test_the_everyday_replies_work_for_a_customer_who_did_not_verify():
    """Only what needs a verified order (or the name, in a second greeting) is greyed out for them."""
    filled = macros.fill(macros.load(), macros.values(None, None, "Ana Rivera"))
    ready = [m.name for m in filled if m.ready]
    assert {"Greeting", "Sorry for the wait", "Anything else", "Handing back"} <= set(ready)
    assert len(ready) >= len(filled) - 3, [m.name for m in filled if not m.ready]
    assert all("needs an order number" in m.why or "needs the customer's first name" in m.why
               for m in filled if not m.ready)
    greeting = next(m for m in filled if m.name == "Greeting")
    assert greeting.shortcut == 1 and greeting.text.startswith("Hi, I'm Ana from the Harbor & Pine team.")
    named = macros.fill(macros.load(), macros.values("Maria Lopez", "CL-100001", "Ana Rivera"))
    assert all(m.ready for m in named), "a verified customer with an order: every reply can be used"
    assert any(m.text.startswith("Hi Maria, I'm Ana") for m in named), "and a greeting by name"


def test_no_saved_reply_asks_for_what_the_chat_cannot_send():
    texts = " ".join(m.text.lower() for m in macros.load())
    assert not any(word in texts for word in ("photo", "picture", "attach", "upload", "screenshot"))


def test_placeholders_are_filled_for_the_ticket_at_hand():
    loaded = macros.parse({"macros": [
        {"name": "Hello", "text": "Hi {first_name}, I'm {agent_first_name}. About {order_number}: {first_name}!"}]})
    filled = macros.fill(loaded, macros.values("Maria Lopez", "CL-100001", "Ana Rivera"))
    assert filled[0].ready and filled[0].text == "Hi Maria, I'm Ana. About CL-100001: Maria!"
    assert filled[0].shortcut == 1


def test_a_macro_without_a_value_for_its_placeholder_is_disabled_with_the_reason():
    loaded = macros.parse({"macros": [{"name": "Order", "text": "Checking {order_number} now."},
                                      {"name": "Hi", "text": "Hi {first_name}!"},
                                      {"name": "Plain", "text": "One moment please."}]})
    filled = macros.fill(loaded, macros.values(None, None, "Ana Rivera"))
    assert [m.ready for m in filled] == [False, False, True]
    assert "no verified order" in filled[0].why and "not verified who they are" in filled[1].why
    assert "{order_number}" in filled[0].text, "never filled with a gap the customer could receive"


def test_values_leave_out_what_is_missing():
    assert macros.values("Maria Lopez", None, "Ana Rivera") == {"first_name": "Maria", "agent_first_name": "Ana"}
    assert macros.values("", "", "") == {}


def test_a_filled_value_is_never_read_as_a_placeholder():
    loaded = macros.parse({"macros": [{"name": "Hi", "text": "Hi {first_name}, order {order_number}"}]})
    filled = macros.fill(loaded, {"first_name": "{order_number}", "order_number": "CL-1"})
    assert filled[0].text == "Hi {order_number}, order CL-1"


@pytest.mark.parametrize("data, complaint", [
    (None, "list under `macros:`"),
    ({"macros": "hello"}, "list under `macros:`"),
    ({"macros": [{"name": "A"}]}, "exactly a `name` and a `text`"),
    ({"macros": [{"name": "A", "text": "x", "extra": 1}]}, "exactly a `name` and a `text`"),
    ({"macros": [{"name": "", "text": "x"}]}, "a name of 1 to"),
    ({"macros": [{"name": "A", "text": "  "}]}, "a text of 1 to"),
    ({"macros": [{"name": "A", "text": "x" * (MAX_TEXT + 1)}]}, "a text of 1 to"),
    ({"macros": [{"name": "A", "text": "x"}, {"name": "A", "text": "y"}]}, "appears twice"),
    ({"macros": [{"name": "A", "text": "Dear {customer}"}]}, "unknown placeholder {customer}"),
    ({"macros": [{"name": "A", "text": "Dear {first_name.__class__}"}]}, "unknown placeholder"),
    ({"macros": [{"name": "A", "text": "Dear {}"}]}, "unknown placeholder {}"),
    ({"macros": [{"name": "A", "text": "a { b"}]}, "a brace that is not part of a placeholder"),
    ({"macros": [{"name": "A", "text": "{{first_name}}"}]}, "a brace that is not part of a placeholder"),
    ({"macros": [{"name": f"M{i}", "text": "x"} for i in range(macros.MAX_MACROS + 1)]}, "at most"),
])
def test_a_broken_macros_file_is_refused_with_where_and_why(data, complaint):
    with pytest.raises(macros.MacroError, match=re.escape(complaint)):
        macros.parse(data)


def test_only_the_first_nine_have_shortcuts():
    loaded = macros.parse({"macros": [{"name": f"M{i}", "text": "x"} for i in range(12)]})
    assert [m.shortcut for m in macros.fill(loaded, {})] == [1, 2, 3, 4, 5, 6, 7, 8, 9, None, None, None]


def test_an_edited_file_is_read_again_without_a_restart(tmp_path):
    path = tmp_path / "macros.yml"
    path.write_text(yaml.safe_dump({"macros": [{"name": "One", "text": "first"}]}))
    assert [m.name for m in macros.load(path)] == ["One"]
    path.write_text(yaml.safe_dump({"macros": [{"name": "Two", "text": "second"}]}))
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    assert [m.name for m in macros.load(path)] == ["Two"]
    path.write_text("macros: [unclosed")
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    with pytest.raises(macros.MacroError, match="not valid YAML"):
        macros.load(path)
