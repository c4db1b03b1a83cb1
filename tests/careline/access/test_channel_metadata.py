"""Channel metadata: the server-set client name and the bounds on what a caller may send."""
from __future__ import annotations

import pytest

from careline.access.channel_metadata import (
    CLIENT_KEY,
    MAX_BYTES,
    MAX_CLIENT_CHARS,
    client_name,
    metadata_problem,
    with_client,
)


@pytest.mark.parametrize("kind, ident, expected", [
    ("web", "203.0.113.7", "web:203.0.113.7"),
    ("rest", "::1", "rest:::1"),
    ("messenger", "1234567890", "messenger:1234567890"),
    ("web", None, "web:unknown"),
    ("web", "1.2.3.4\r\nX-Evil: 1", "web:1.2.3.4__X-Evil:_1"),
])
def test_client_names(kind, ident, expected):
    assert client_name(kind, ident) == expected


def test_a_client_name_is_at_most_128_characters():
    assert len(client_name("rest", "x" * 1000)) == MAX_CLIENT_CHARS


def test_the_server_value_overwrites_the_callers():
    sent = {CLIENT_KEY: "web:10.0.0.1", "order_ref": "A1"}
    stamped = with_client(sent, "rest:127.0.0.1")
    assert stamped == {CLIENT_KEY: "rest:127.0.0.1", "order_ref": "A1"}
    assert sent[CLIENT_KEY] == "web:10.0.0.1", "the caller's dict is not changed"
    assert with_client(None, "messenger:42") == {CLIENT_KEY: "messenger:42"}


@pytest.mark.parametrize("metadata", [None, {}, {"a": 1, "b": [1, 2, {"c": "d"}]}, {f"k{i}": i for i in range(20)},
                                      {"a": {"b": {"c": [1]}}}, {"blob": "x" * (MAX_BYTES - 20)}])
def test_reasonable_metadata_passes(metadata):
    assert metadata_problem(metadata) is None


@pytest.mark.parametrize("metadata, status, error", [
    ([1], 400, "bad_metadata"),
    ("text", 400, "bad_metadata"),
    ({f"k{i}": i for i in range(21)}, 400, "bad_metadata"),
    ({"a": {f"k{i}": i for i in range(20)}}, 400, "bad_metadata"),     # keys count at every level
    ({"a": {"b": {"c": {"d": {"e": 1}}}}}, 400, "bad_metadata"),       # five levels
    ({"a": [[[[1]]]]}, 400, "bad_metadata"),
    ({"blob": "x" * 900_000}, 413, "metadata_too_large"),
    ({"blob": "é" * 3000}, 413, "metadata_too_large"),                 # bytes, not characters
])
def test_unbounded_metadata_is_refused(metadata, status, error):
    problem = metadata_problem(metadata)
    assert problem is not None and (problem.status, problem.error) == (status, error) and problem.detail
