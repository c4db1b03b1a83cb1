"""Careline's Rasa input channels: REST, the website socket and Messenger, each hardened.

Thin adapters: limits, signatures and message formats live in `careline` (no Rasa there).
credentials.yml names these classes by module path, so Rasa runs with the project root on PYTHONPATH.
"""
