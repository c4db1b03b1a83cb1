"""The shared kernel every context may use: settings, time, signing, safe JSON, private files, rate limits,
the catalogue of customer sentences (domain.yml `responses:`, `render`), what a customer said in a stored
conversation (`said_by_customer`),
the shop's facts (shop.yml), the patterns of what customers write (order numbers, emails, phones, cards;
`redact`) and text lengths.

Nothing here knows about the store's orders, money, tickets or models.
"""
from careline.shared.catalogue import Catalogue, CatalogueError, button, catalogue, render
from careline.shared.clock import as_utc, utcnow, utctoday
from careline.shared.events import EXTERNAL_INTENT_PREFIX, is_external_intent, said_by_customer
from careline.shared.limits import MESSAGE_MAX_CHARS, TEXT_MAX_CHARS
from careline.shared.patterns import (
    EMAIL_IN_TEXT,
    EMAIL_WHOLE,
    ORDER_NUMBER_IN_TEXT,
    ORDER_NUMBER_MENTION,
    ORDER_DIGITS,
    ORDER_NUMBER_WHOLE,
    ORDER_PREFIX,
    luhn_valid,
    redact,
)
from careline.shared.policy_file import PolicyFileError, read_policy, whole_numbers
from careline.shared.private_files import secure_var
from careline.shared.ratelimit import Limit, RateLimiter
from careline.shared.settings import PROJECT_ROOT, Settings, load_settings
from careline.shared.shop import Shop, ShopFileError, load_shop
from careline.shared.signing import Signer, digest

__all__ = ["Catalogue", "CatalogueError", "button", "catalogue", "render",
           "EMAIL_IN_TEXT", "EMAIL_WHOLE", "MESSAGE_MAX_CHARS", "ORDER_DIGITS", "ORDER_NUMBER_IN_TEXT",
           "ORDER_NUMBER_MENTION", "ORDER_NUMBER_WHOLE", "ORDER_PREFIX", "PROJECT_ROOT", "TEXT_MAX_CHARS", "Limit",
           "PolicyFileError", "RateLimiter", "Settings", "Shop", "ShopFileError", "Signer", "as_utc", "digest",
           "load_settings", "load_shop", "luhn_valid",
           "read_policy", "redact", "secure_var", "utcnow", "utctoday", "whole_numbers"]
__all__ += ["EXTERNAL_INTENT_PREFIX", "is_external_intent", "said_by_customer"]
