"""Message metadata the channels hand to Rasa: bounded, and with a server-set client name (pure, no Rasa).

Every channel puts `careline_client` into a message's metadata: who the network client is, e.g.
`web:203.0.113.7`, `rest:10.0.0.5` or `messenger:<page-scoped id>` (Messenger deliveries all come
from Facebook's servers, so the customer's page-scoped id names the client). It is set by the
server and overwrites whatever a caller sent under that key. Caller metadata (REST only) is
bounded in size, number of keys and depth before it reaches the tracker.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

CLIENT_KEY = "careline_client"
MAX_CLIENT_CHARS = 128
MAX_BYTES = 4096
MAX_KEYS = 20
MAX_DEPTH = 4
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@\[\]%-]")


def client_name(kind: str, ident: Optional[str]) -> str:
    """`kind:ident` with anything but a conservative set of characters replaced, at most 128 characters."""
    name = f"{_UNSAFE.sub('_', kind)}:{_UNSAFE.sub('_', str(ident or 'unknown'))}"
    return name[:MAX_CLIENT_CHARS]


def with_client(metadata: Optional[Dict[str, Any]], client: str) -> Dict[str, Any]:
    """A copy of `metadata` with `careline_client` set by the server (any caller's value is replaced)."""
    return {**(metadata or {}), CLIENT_KEY: client[:MAX_CLIENT_CHARS]}


@dataclass(frozen=True)
class MetadataProblem:
    status: int
    error: str
    detail: str


def _shape(value: Any) -> Tuple[int, int]:
    """(total keys of every object, deepest nesting of objects and arrays), without recursion."""
    keys, deepest, stack = 0, 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            keys += len(item)
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return keys, deepest


def metadata_problem(metadata: Any, max_bytes: int = MAX_BYTES, max_keys: int = MAX_KEYS,
                     max_depth: int = MAX_DEPTH) -> Optional[MetadataProblem]:
    """Why a caller's `metadata` may not be stored, or None when it may (None itself is fine).

    Args:
        metadata: the parsed `metadata` field of a request.
        max_bytes: the largest size of its compact UTF-8 JSON serialisation.
        max_keys: the most keys, counted over every object in it.
        max_depth: the deepest nesting of objects and arrays (the metadata object itself is 1).
    """
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return MetadataProblem(400, "bad_metadata", "'metadata' must be a JSON object")
    keys, depth = _shape(metadata)
    if depth > max_depth:
        return MetadataProblem(400, "bad_metadata", f"'metadata' may be nested at most {max_depth} levels deep")
    if keys > max_keys:
        return MetadataProblem(400, "bad_metadata", f"'metadata' may hold at most {max_keys} keys, it has {keys}")
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return MetadataProblem(413, "metadata_too_large",
                               f"'metadata' may be at most {max_bytes} bytes as JSON, it is {size}")
    return None
