"""Understanding messages: the intent and frustration models (pure), the encoder, evaluation and data checks.

intent_model.py       TF-IDF + lexicon + embedding logistic regression for intents and FAQ topics
frustration_model.py  frustration features, model, thresholds and a conversation's trajectory
encoder.py            the pinned MiniLM sentence encoder in numpy
clarification.py      when to ask instead of guess, and what a fallback suggests
pipeline_config.py    reading component settings from config.yml
metrics.py            accuracy, P/R/F1, calibration for `make eval`
datacheck.py          near-duplicate and data checks for `make validate`
review.py             reviewing real conversations for new training examples
"""
