"""The shop page server's return-label route over real HTTP: the PDF for our link, a short page otherwise."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

import pytest
import requests

from careline.db import make_engine
from careline.money import ClaimService, Request, load_policy
from careline.shared import Signer, load_settings
from ops.web_server import make_server
from tests.conftest import SEED_DAY

KEY = "label-route-tests-signing-key-0123456789"


@pytest.fixture
def server(fresh_store_url, tmp_path):
    settings = load_settings(environ={"CARELINE_STORE_DB_URL": fresh_store_url, "CARELINE_SIGNING_KEY": KEY,
                                      "CARELINE_VAR_DIR": str(tmp_path), "CARELINE_PUBLIC_URL": "https://shop.example"},
                             root=load_settings().root)
    httpd = make_server(settings, 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", fresh_store_url
    httpd.shutdown()
    httpd.server_close()


def _return(store_url: str) -> str:
    outcome = ClaimService(make_engine(store_url), load_policy(), today=lambda: SEED_DAY).decide_and_apply(
        idempotency_key="route-test", order_number="CL-100003", email="jkim88@example.net", request=Request("return"))
    return outcome.reference


def _link(reference: str, expires: float) -> str:
    return f"/returns/label/{Signer(KEY, 'return-label').sign({'ref': reference, 'exp': int(expires)})}.pdf"


def test_our_link_gets_the_pdf_and_anything_else_a_short_page(server):
    base, store_url = server
    reference = _return(store_url)
    good = _link(reference, time.time() + 3600)
    answer = requests.get(base + good, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-") and "Set-Cookie" not in answer.headers
    assert answer.headers["Content-Disposition"] == f'inline; filename="return-label-{reference}.pdf"'
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["X-Robots-Tag"] == "noindex"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    head = requests.head(base + good, timeout=10)
    assert head.status_code == 200 and head.content == b""

    expired = requests.get(base + _link(reference, time.time() - 1), timeout=10)
    assert expired.status_code == 410 and "expired" in expired.text and reference not in expired.text
    for path in (good.replace(".pdf", "x.pdf"), good[:-4], _link("RA-100003-9999", time.time() + 60),
                 "/returns/label/..%2f..%2fcareline.db", "/returns/label/../../.env",
                 "/returns/label/" + Signer(KEY, "identity").sign({"ref": reference, "exp": 4_000_000_000}) + ".pdf"):
        refused = requests.get(base + path, timeout=10)
        assert refused.status_code == 404, path
        assert reference not in refused.text and "James" not in refused.text and "%PDF" not in refused.text


def test_the_link_the_chat_gives_is_on_the_public_address(server):
    from careline.fulfilment import LabelLinks

    base, store_url = server
    reference = _return(store_url)
    url = LabelLinks(KEY, "https://shop.example").url(reference)
    assert url.startswith("https://shop.example/returns/label/")
    assert requests.get(base + urlparse(url).path, timeout=10).status_code == 200


def test_the_access_log_keeps_no_label_link(server, capfd):
    base, store_url = server
    token_path = _link(_return(store_url), time.time() + 3600)
    assert requests.get(base + token_path, timeout=10).status_code == 200
    assert requests.get(base + "/returns/label/forged.pdf", timeout=10).status_code == 404
    logged = capfd.readouterr().err
    assert "/returns/label/<link>" in logged and token_path.split("/")[-1] not in logged and "forged" not in logged
