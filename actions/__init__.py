"""Custom actions: thin rasa-sdk adapters over the `careline` core.

rasa-sdk imports every module here at start-up, so nothing in this package may open a
database connection or do heavy work at import time (see `actions.deps`).
"""
