"""One JSON parser for every route that reads a JSON body from the network (pure, no Rasa).

`json.loads` alone lets through what later turns into a 500 or bad data: nesting deep enough to
exhaust the interpreter's recursion limit, lone UTF-16 surrogates (`"\\ud800"`, which no UTF-8
encoder accepts) in strings or keys, and NaN or Infinity (written, or a number that overflows).
`loads` refuses all of them with `JSONRejected` (a ValueError), so a route answers 400.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Union

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONRejected(ValueError):
    """The body is not JSON we accept; `code` names why (for an error response)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _constant(name: str) -> Any:
    raise JSONRejected("malformed_json", f"{name} is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected("malformed_json", f"the number {text[:40]} is out of range")
    return value


def _check(value: Any, max_depth: int) -> None:
    """Walks the parsed value without recursion; raises on depth beyond `max_depth` or a surrogate."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise JSONRejected("malformed_json", "the body contains a lone UTF-16 surrogate (\\ud800-\\udfff)")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise JSONRejected("too_deeply_nested", f"the JSON is nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def loads(raw: Union[bytes, str], max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON document from the network.

    Args:
        raw: the body, UTF-8 bytes (or text already decoded).
        max_depth: how many arrays and objects may be nested (the outermost counts as 1).

    Raises:
        JSONRejected: not UTF-8, not JSON, NaN/Infinity, nested too deeply or a lone surrogate.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        raise JSONRejected("malformed_json", "the body is not valid UTF-8") from None
    if not isinstance(text, str):
        raise JSONRejected("malformed_json", "the body is not text")
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float)
    except JSONRejected:
        raise
    except RecursionError:
        raise JSONRejected("too_deeply_nested", f"the JSON is nested deeper than {max_depth} levels") from None
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise JSONRejected("malformed_json", f"the body is not valid JSON ({str(error)[:120]})") from None
    _check(value, max_depth)
    return value


def loads_or_none(raw: Union[bytes, str], max_depth: int = MAX_DEPTH) -> Any:
    """`loads`, with None for a body it refuses (for routes that answer 400 to anything but an object)."""
    try:
        return loads(raw, max_depth)
    except JSONRejected:
        return None
