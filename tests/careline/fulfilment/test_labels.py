"""The return label: made from the store only, and its PDF says and encodes what it must."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta

import barcode
import pypdf
import pytest
from sqlalchemy.orm import Session

from careline.fulfilment import address_lines, find_return, label_pdf, long_day
from tests.careline.fulfilment.code128 import bars, decode
from tests.careline.fulfilment.conftest import decide, james_return, priya_reship


def _label(engine, reference, shop):
    with Session(engine) as session:
        return find_return(session, reference, shop)


def _text(pdf: bytes) -> str:
    return pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_a_label_is_made_only_for_an_approved_return(engine, claims, shop):
    reference = james_return(claims)
    label = _label(engine, reference, shop)
    assert label.reference == reference and label.order_number == "CL-100003"
    assert label.customer_name == "James Kim" and label.customer_email == "jkim88@example.net"
    assert label.ship_from == ("James Kim", "93 Lake Street", "Denver, CO 80202")
    assert label.ship_to == shop.returns_address
    assert label.drop_off_by == label.issued.astimezone(shop.timezone).date() + timedelta(days=shop.drop_off_days)
    refund = decide(claims, "refund", "CL-100003", "jkim88@example.net", reason="damaged")
    reship = priya_reship(claims)
    for other in (refund, reship, "RA-100003-9999", "", "RA-100003-0001' OR '1'='1"):
        assert _label(engine, other, shop) is None, other


def test_the_pdf_names_the_return_the_order_and_both_addresses(engine, claims, shop):
    label = _label(engine, james_return(claims), shop)
    pdf = label_pdf(label, shop)
    assert pdf.startswith(b"%PDF-") and len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    text = _text(pdf)
    for expected in (label.reference, "CL-100003", "James Kim", "93 Lake Street", "Denver, CO 80202",
                     *shop.returns_address, long_day(label.drop_off_by), shop.name):
        assert expected in text, expected


def test_the_barcode_encodes_the_return_number(engine, claims, shop):
    label = _label(engine, james_return(claims), shop)
    assert decode(bars(label_pdf(label, shop))) == label.reference


def test_the_code128_reader_agrees_with_an_independent_encoder():
    """The test's reader decodes python-barcode's own drawing of a return number (so it reads Code 128, not
    only what reportlab draws)."""
    for text in ("RA-100003-0007", "RA-123456-9999", "RS-100004-0012"):
        assert decode(barcode.get("code128", text).build()[0]) == text
    with pytest.raises(AssertionError):
        decode(barcode.get("code128", "RA-100003-0007").build()[0].replace("11010010000", "11010011100", 1))


@pytest.mark.skipif(not (shutil.which("zbarimg") and shutil.which("pdftoppm")),
                    reason="needs Debian's zbar-tools and poppler-utils; the vector check above runs always")
def test_a_scanner_reads_both_codes_from_the_printed_page(engine, claims, shop, tmp_path):
    label = _label(engine, james_return(claims), shop)
    (tmp_path / "label.pdf").write_bytes(label_pdf(label, shop))
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", str(tmp_path / "label.pdf"),
                    str(tmp_path / "page")], check=True)
    scanned = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page.png")], capture_output=True,
                             text=True).stdout.split()
    assert sorted(scanned) == [label.reference, label.reference]  # the Code 128 and the QR code


def test_addresses_are_split_into_label_lines():
    assert address_lines("75 Lake Street, Portland, OR 97205") == ("75 Lake Street", "Portland, OR 97205")
    assert address_lines("  General Delivery ") == ("General Delivery",)
