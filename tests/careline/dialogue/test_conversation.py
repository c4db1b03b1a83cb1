"""The conversation over plain events: the bot's latest question and which action asked it."""
from __future__ import annotations

from careline.dialogue.conversation import latest_question

YES_NO = [{"title": "Yes, please", "payload": "/affirm"}, {"title": "No, thanks", "payload": "/deny"}]
OFFER = [{"event": "action", "name": "action_order_request"},
         {"event": "bot", "text": "Good news. Shall I create a return?", "data": {"buttons": YES_NO}},
         {"event": "action", "name": "action_listen"}]


def _user(intent, text):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def test_the_latest_question_is_the_latest_message_with_buttons_and_names_its_asker():
    question = latest_question(OFFER + [_user("affirm", "yes")])
    assert question is not None and question.yes_no and question.asker == "action_order_request"
    assert question.text == "Good news. Shall I create a return?" and question.offers("/affirm")
    assert latest_question([]) is None and latest_question([_user("greet", "hi")]) is None


def test_an_answer_without_buttons_leaves_the_question_standing_anything_asked_later_retires_it():
    detour = [_user("faq", "how long is delivery?"), {"event": "action", "name": "utter_faq"},
              {"event": "bot", "text": "3-5 working days."}]
    assert latest_question(OFFER + detour + [_user("affirm", "yes")]).asker == "action_order_request"
    rating = [_user("goodbye", "bye"), {"event": "action", "name": "feedback_form"},
              {"event": "bot", "text": "How did we do?", "data": {"buttons": [{"title": "5", "payload": "5"}]}}]
    later = latest_question(OFFER + rating + [_user("affirm", "yes")])
    assert later.asker == "feedback_form" and not later.yes_no
