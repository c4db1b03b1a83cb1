"""Customer ratings (CSAT) after a conversation with the bot or a person."""
from careline.feedback.csat import FeedbackService

__all__ = ["FeedbackService"]
