"""Signed, expiring label links: only ours, only for their purpose, only until they expire."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest

from careline.fulfilment import EXPIRED, INVALID, VALID, LabelLinks
from careline.shared import Signer
from tests.careline.fulfilment.conftest import BASE_URL, SIGNING_KEY
from tests.conftest import Clock


def _path(url: str) -> str:
    return urlparse(url).path


def test_a_link_names_its_return_until_it_expires():
    clock = Clock()
    links = LabelLinks(SIGNING_KEY, BASE_URL + "/", days=30, now=clock)
    url = links.url("RA-100003-0007")
    assert url.startswith(f"{BASE_URL}/returns/label/") and url.endswith(".pdf")
    check = links.check_path(_path(url))
    assert (check.status, check.reference) == (VALID, "RA-100003-0007")
    clock.now += timedelta(days=30) - timedelta(seconds=1)
    assert links.check_path(_path(url)).status == VALID
    clock.now += timedelta(seconds=1)
    assert links.check_path(_path(url)).status == EXPIRED and links.check_path(_path(url)).reference is None


def _tamper(path: str) -> str:
    body, mac = path[len("/returns/label/"):-len(".pdf")].split(".")
    return f"/returns/label/{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}.pdf"


@pytest.mark.parametrize("make", [
    lambda url: _tamper(_path(url)),                                                        # altered
    lambda url: "/returns/label/" + Signer(SIGNING_KEY, "identity").sign(
        {"ref": "RA-100003-0007", "exp": 4_000_000_000}) + ".pdf",                             # another purpose
    lambda url: _path(LabelLinks("another-key-0123456789abcdef", BASE_URL).url("RA-100003-0007")),  # another key
    lambda url: "/returns/label/" + Signer(SIGNING_KEY, "return-label").sign(
        {"ref": "RA-100003-0007", "exp": "never"}) + ".pdf",                                   # a forged shape
    lambda url: "/returns/label/" + Signer(SIGNING_KEY, "return-label").sign(
        {"ref": ["RA-1"], "exp": 4_000_000_000}) + ".pdf",
    lambda url: _path(url)[:-4],                                                            # no .pdf
    lambda url: _path(url) + "/../../../etc/passwd.pdf",                                    # traversal
    lambda url: "/returns/label/../../careline.db.pdf",
    lambda url: "/returns/label/%2e%2e%2fcareline.db.pdf",
    lambda url: "/returns/label/.pdf",
    lambda url: "/returns/label/" + "a" * 5000 + "." + "b" * 43 + ".pdf",
])
def test_anything_but_our_own_link_is_invalid(make):
    links = LabelLinks(SIGNING_KEY, BASE_URL)
    check = links.check_path(make(links.url("RA-100003-0007")))
    assert (check.status, check.reference) == (INVALID, None)
