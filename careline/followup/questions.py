"""The follow-up in the conversation: the external intents that start it.

The worker triggers `EXTERNAL_follow_up` (or `EXTERNAL_late_order` for a late-order notice) with the
follow-up's id as the entity `follow_up_id`; the action it starts (`action_follow_up`) asks the
question, and the customer's yes or no answers it while it is the bot's latest yes/no question
(actions/orders.py, careline.dialogue.conversation.latest_question).
"""
from __future__ import annotations

FOLLOW_UP_INTENT = "EXTERNAL_follow_up"
LATE_ORDER_INTENT = "EXTERNAL_late_order"
ENTITY = "follow_up_id"
