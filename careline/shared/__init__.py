"""The shared kernel every context may use: settings, time, signing, safe JSON, private files, rate limits,
the catalogue of customer sentences (domain.yml `responses:`, `render`).

Nothing here knows about orders, money, tickets or models.
"""
from careline.shared.catalogue import Catalogue, CatalogueError, button, catalogue, render
from careline.shared.clock import as_utc, utcnow, utctoday
from careline.shared.policy_file import PolicyFileError, whole_numbers
from careline.shared.private_files import secure_var
from careline.shared.ratelimit import Limit, RateLimiter
from careline.shared.settings import PROJECT_ROOT, Settings, load_settings
from careline.shared.signing import Signer, digest

__all__ = ["Catalogue", "CatalogueError", "button", "catalogue", "render",
           "PROJECT_ROOT", "Limit", "PolicyFileError", "RateLimiter", "Settings", "Signer", "as_utc", "digest",
           "load_settings", "secure_var", "utcnow", "utctoday", "whole_numbers"]
