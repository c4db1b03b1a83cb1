"""Reading a Code 128 barcode back from a PDF's vector drawing, independently of the code that drew it.

The bars are the filled rectangles of the page's content stream (positions through the current
transformation matrix); their widths in modules are decoded with the symbol table of python-barcode,
a second, independent implementation of Code 128, and the check symbol is verified.
"""
from __future__ import annotations

import io
from collections import Counter
from typing import List, Tuple

import pypdf
from barcode.charsets import code128 as table
from pypdf.generic import ContentStream

STOP = table.STOP + "11"  # the stop symbol ends with a two-module bar
CODE_A, CODE_B, CODE_C = 101, 100, 99
START = {103: "A", 104: "B", 105: "C"}


def _multiply(m: List[float], n: List[float]) -> List[float]:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return [a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2]


def filled_rectangles(pdf: bytes) -> List[Tuple[float, float, float, float]]:
    """(x, y, width, height) on the page of every rectangle that is filled, in page coordinates."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    stack: List[List[float]] = []
    ctm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    pending: List[Tuple[float, float, float, float]] = []
    found = []
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"q":
            stack.append(ctm)
        elif operator == b"Q":
            ctm = stack.pop()
        elif operator == b"cm":
            ctm = _multiply([float(v) for v in operands], ctm)
        elif operator == b"re":
            x, y, w, h = (float(v) for v in operands)
            a, _b, _c, d, e, f = ctm
            pending.append((a * x + e, d * y + f, a * w, d * h))
        elif operator in (b"f", b"f*", b"F", b"B", b"B*"):
            found.extend(pending)
            pending = []
        elif operator in (b"n", b"S", b"s"):
            pending = []
    return found


def bars(pdf: bytes) -> str:
    """The modules ("1" bar, "0" space) of the one row of tall bars on the page."""
    rows = Counter((round(y, 1), round(h, 1)) for _x, y, _w, h in filled_rectangles(pdf) if h > 20 and h > 3 * _w)
    (row_y, row_h), _count = rows.most_common(1)[0]
    row = sorted((x, w) for x, y, w, h in filled_rectangles(pdf) if (round(y, 1), round(h, 1)) == (row_y, row_h))
    module = min(w for _x, w in row)
    modules, end = "", row[0][0]
    for x, w in row:
        modules += "0" * round((x - end) / module) + "1" * round(w / module)
        end = x + w
    return modules


def decode(modules: str) -> str:
    """The text of a Code 128 symbol (start, data, check symbol, stop); AssertionError if it is not one."""
    assert modules.endswith(STOP), "no stop symbol"
    body = modules[: -len(STOP)]
    assert len(body) % 11 == 0, "not a whole number of symbols"
    values = [table.CODES.index(body[i:i + 11]) for i in range(0, len(body), 11)]
    start, *data, check = values
    assert start in START, "no start symbol"
    assert (start + sum(i * v for i, v in enumerate(data, start=1))) % 103 == check, "check symbol"
    text, code = "", START[start]
    for value in data:
        if code == "C" and value < 100:
            text += f"{value:02d}"
        elif value in (CODE_A, CODE_B, CODE_C) and value != {"A": CODE_A, "B": CODE_B, "C": -1}[code]:
            code = {CODE_A: "A", CODE_B: "B", CODE_C: "C"}[value]  # a switch (in its own set, 100/101 are FNC4)
        elif code == "B":
            text += chr(value + 32)
        else:
            text += chr(value + 32) if value < 64 else chr(value - 64)
    return text
