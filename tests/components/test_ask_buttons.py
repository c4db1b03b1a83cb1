"""The question each "which of these do you mean?" FAQ button sends is understood as that topic by the
trained model (a button that led somewhere else would be worse than no question)."""
from __future__ import annotations

import asyncio

import pytest

from careline.nlu.clarification import FAQ_CHOICES, faq_button
from ops.nlu_eval import label_of, quiet
from ops.train import model_path


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent

    model = model_path()
    if not model.exists():
        pytest.fail(f"no model for the current data ({model.name}): run `make train` first")
    quiet()
    return Agent.load(str(model))


@pytest.mark.parametrize("topic", sorted(FAQ_CHOICES))
def test_each_faq_button_asks_its_own_topic(agent, topic):
    title, question = faq_button(topic)
    assert len(title) <= 20, "Messenger cuts quick-reply titles at 20 characters"
    parsed = asyncio.run(agent.parse_message(question))
    assert label_of(parsed) == topic
    assert parsed["intent"]["confidence"] >= 0.5
