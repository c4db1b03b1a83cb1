"""The one JSON parser for network bodies: depth limit, lone surrogates, NaN/Infinity."""
from __future__ import annotations

import json

import pytest

from careline.shared.safe_json import MAX_DEPTH, JSONRejected, loads, loads_or_none


@pytest.mark.parametrize("raw, expected", [
    (b'{"sender": "a", "message": "hi"}', {"sender": "a", "message": "hi"}),
    (b'"\\ud83d\\ude00"', "\U0001F600"),                 # a surrogate pair is one character
    ('{"caf\\u00e9": [1, 2.5, null, true]}', {"café": [1, 2.5, None, True]}),
    (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)),
])
def test_ordinary_json_parses(raw, expected):
    assert loads(raw) == expected


@pytest.mark.parametrize("raw", [
    b'"\\ud800"', b'{"message": "hi \\udfff"}', b'{"k\\udc00": 1}', b'[["\\ud83d"]]', b'"\\ude00\\ud83d"',
    b'{"a": {"b": ["x", "\\udbff"]}}',
])
def test_a_lone_surrogate_anywhere_is_refused(raw):
    with pytest.raises(JSONRejected) as caught:
        loads(raw)
    assert caught.value.code == "malformed_json" and "surrogate" in caught.value.detail


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
                                 b'{"a": ' * 40 + b"1" + b"}" * 40])
def test_deep_nesting_is_refused_without_a_recursion_error(raw):
    with pytest.raises(JSONRejected) as caught:
        loads(raw)
    assert caught.value.code == "too_deeply_nested"


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"\xed\xa0\x80", b"NaN", b"[Infinity]", b"[-Infinity]",
                                 b"[1e999]", b"1" + b"0" * 5000, b"{'a': 1}"])
def test_malformed_bodies_are_refused(raw):
    with pytest.raises(JSONRejected) as caught:
        loads(raw)
    assert caught.value.code == "malformed_json"
    assert isinstance(caught.value, ValueError), "callers catching ValueError keep working"


def test_loads_or_none():
    assert loads_or_none(b'{"a": 1}') == {"a": 1}
    assert loads_or_none(b'"\\ud800"') is None and loads_or_none(b"[" * 5000) is None
