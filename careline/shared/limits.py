"""How much of a customer's text the system accepts and reads: one definition of each length.

Two lengths, because they mean two things:
- `MESSAGE_MAX_CHARS`: the longest message a channel accepts from a customer (the default of
  `Settings.max_message_chars`, which `CARELINE_MAX_MESSAGE_CHARS` changes for the channels and the
  widget). The frustration scorer and the refund-reason guess read this much of a message. The
  scorer keeps this constant, not the setting: what it reads is part of the trained model, so
  training and serving must agree whatever a deployment sets.
- `TEXT_MAX_CHARS`: the most of any text that the intent classifier, the sentence encoder and the
  order-number and email finders read. Text reaches them without a channel too (`POST
  /model/parse`, a stored conversation, training data), so this bounds their cost; it is twice the
  channels' default, so a message a channel let through is read whole unless a deployment more
  than doubles that limit.
"""
from __future__ import annotations

MESSAGE_MAX_CHARS = 1000
TEXT_MAX_CHARS = 2 * MESSAGE_MAX_CHARS
