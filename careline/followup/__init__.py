"""Following up: the bot writes first, later, about a customer's case; late-order notices.

rules.py      policy.yml `follow_up:` (delays per kind, quiet period, answer window) and the demo override
schedule.py   the schedule in the store, derived from the cases (decisions, resolved tickets, order
              watches) so that nothing is lost; asking, answering, watching an order
delivery.py   the worker's job: due follow-ups into their conversations through the bot (Rasa's
              trigger_intent), channel rules, retries with backoff
channels.py   which channels let the bot write first (the one place that decides it)
cases.py      what a follow-up is about (decision, order, ticket) and when an order is late
questions.py  the external intents that start a follow-up and a late-order notice
"""
from careline.followup.cases import Case, is_late
from careline.followup.channels import Reach, may_write_first
from careline.followup.delivery import Bot, ConversationState, FollowUpDelivery, Tally, conversation_state
from careline.followup.questions import ENTITY, FOLLOW_UP_INTENT, LATE_ORDER_INTENT
from careline.followup.rules import CASE_KINDS, LATE_ORDER, FollowUpRules
from careline.followup.schedule import FollowUpSchedule

__all__ = ["CASE_KINDS", "ENTITY", "FOLLOW_UP_INTENT", "LATE_ORDER", "LATE_ORDER_INTENT", "Bot", "Case",
           "ConversationState", "FollowUpDelivery", "FollowUpRules", "FollowUpSchedule", "Reach", "Tally",
           "conversation_state", "is_late", "may_write_first"]
