"""The benchmark's messages: real phrasings from the test data, the same for both systems every time."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import messages


def test_the_same_arguments_give_the_same_conversations_and_another_seed_others() -> None:
    first = messages.conversations(8, 25, seed=18)
    assert first == messages.conversations(8, 25, seed=18)
    assert first != messages.conversations(8, 25, seed=19)
    assert len(first) == 8 and all(len(conversation) == 25 for conversation in first)
    assert len({tuple(conversation) for conversation in first}) == 8   # eight different customers


def test_messages_are_phrasings_of_the_test_sets_or_a_demo_order_question() -> None:
    by_intent = messages.phrasings()
    known = {text for texts in by_intent.values() for text in texts}
    orders = {number for number, _ in messages.DEMO_ORDERS}
    emails = {email for _, email in messages.DEMO_ORDERS}
    sent = [text for conversation in messages.conversations(6, 200) for text in conversation]
    assert set(sent) <= known | orders | emails
    left_out = {text for intent in messages.HANDOFF_INTENTS for text in by_intent.get(intent, ())}
    only_left_out = left_out - {text for intent, texts in by_intent.items()
                                if intent not in messages.HANDOFF_INTENTS for text in texts}
    assert not only_left_out & set(sent), "a phrasing of a handoff intent was sent"
    assert orders & set(sent) and emails & set(sent), "no demo order was asked about"
    assert len(set(sent)) > 200, "the conversations repeat a few messages instead of using the test sets"


def test_an_order_number_is_followed_by_the_email_on_that_order() -> None:
    owner = dict(messages.DEMO_ORDERS)
    for conversation in messages.conversations(6, 200):
        for position, text in enumerate(conversation[:-1]):
            if text in owner:
                assert conversation[position + 1] == owner[text]


def test_entity_markup_is_removed_from_examples(tmp_path: Path) -> None:
    nlu = tmp_path / "nlu.yml"
    nlu.write_text('version: "3.1"\nnlu:\n- intent: order_status\n  examples: |\n'
                   '    - where is [CL-100003](order_id)\n    - mail is [a@b.example]{"entity": "email"} ok\n'
                   '- intent: greet\n  examples: |\n    - hi\n', encoding="utf-8")
    assert messages.phrasings([nlu]) == {"order_status": ["where is CL-100003", "mail is a@b.example ok"],
                                         "greet": ["hi"]}


def test_no_phrasings_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yml"
    empty.write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no intent examples"):
        messages.phrasings([empty])
    with pytest.raises(ValueError, match="left out"):
        messages.message_pool({"greet": ["hi"]}, leave_out=["greet"])


def test_long_conversations_end_with_the_messages_they_began_with() -> None:
    long = messages.long_conversations(3, 200, window=20)
    assert long == messages.long_conversations(3, 200, window=20)
    for conversation in long:
        assert len(conversation) == 200
        assert conversation[180:] == conversation[:20]
        assert conversation[20:180] != conversation[:160]
    short = messages.long_conversations(1, 10, window=20)[0]
    assert short[5:] == short[:5]                 # a window never overlaps itself
