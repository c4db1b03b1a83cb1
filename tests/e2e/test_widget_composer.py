"""The widget's message box in real Chromium: it grows with its text, Enter sends and Shift+Enter adds a
line, a counter near the limit, long text refused with the reason (never cut), 16px on phones, and
focus rings and borders people can see (WCAG 1.4.11: 3:1)."""
from __future__ import annotations

import pytest

from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.widget_page import (
    SIZES,
    WAIT_MS,
    contrast,
    count,
    new_context,
    open_chat,
    say,
    style,
    texts,
    wait_for_more,
)

pytestmark = pytest.mark.e2e

LINE_HEIGHT_PX = 20


def _box(page):
    return page.get_by_label("Your message")


def _height(page) -> float:
    return float(_box(page).bounding_box()["height"])


@pytest.mark.parametrize("size", SIZES)
def test_the_box_grows_up_to_five_lines_enter_sends_and_shift_enter_adds_a_line(system, browser, size):  # noqa: F811
    context = new_context(browser, **SIZES[size])
    page = open_chat(context, system)
    box = _box(page)
    assert box.evaluate("el => el.tagName") == "TEXTAREA"
    assert style(page, "#cl-input", "font-size") == "16px", "16px: phones do not zoom into the box"
    single = _height(page)
    customers = count(page, ".cl-msg.cl-customer")

    box.press_sequentially("where is my order")
    box.press("Shift+Enter")
    box.press_sequentially("it was due on Monday")
    assert box.input_value() == "where is my order\nit was due on Monday", "Shift+Enter adds a line"
    assert count(page, ".cl-msg.cl-customer") == customers, "nothing sent yet"
    two_lines = _height(page)
    assert two_lines >= single + LINE_HEIGHT_PX - 2, "the box grows with its text"

    for line in range(3, 9):
        box.press("Shift+Enter")
        box.press_sequentially(f"line {line}")
    tallest = _height(page)
    assert single + 4 * LINE_HEIGHT_PX - 2 <= tallest <= single + 4 * LINE_HEIGHT_PX + 2, "up to five lines"
    assert box.evaluate("el => el.scrollHeight > el.clientHeight + 10"), "then it scrolls"
    assert style(page, "#cl-input", "overflow-y") == "auto"
    screenshot(page, f"widget-box-five-lines-{size}")

    before = count(page)
    box.press("Enter")
    wait_for_more(page, ".cl-msg.cl-customer", customers)
    sent = page.locator(".cl-msg.cl-customer").last.inner_text()
    assert "where is my order\nit was due on Monday\nline 3" in sent and sent.endswith("line 8"), \
        "Enter sends, the lines kept"
    assert box.input_value() == "" and abs(_height(page) - single) <= 1, "emptied and back to one line"
    wait_for_more(page, ".cl-msg.cl-bot", before)
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_counter_near_the_limit_and_long_text_refused_with_the_reason(system, browser, size):  # noqa: F811
    context = new_context(browser, **SIZES[size])
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = open_chat(context, system)
    limit = page.evaluate("window.CARELINE.maxChars")
    assert limit == 1000
    box, counter, hint = _box(page), page.locator(".cl-count"), page.locator(".cl-hint")
    assert box.get_attribute("maxlength") is None, "no silent cut"

    box.fill("a" * (int(limit * 0.8) - 1))
    assert counter.is_hidden(), "no counter far from the limit"
    box.fill("b" * 920)
    assert counter.is_visible() and counter.inner_text() == "920 / 1000", "a counter from 80% of the limit"
    assert hint.is_hidden() and box.get_attribute("aria-invalid") is None
    normal = style(page, ".cl-count", "color")

    long_text = ("My parcel came without the lid and the box was crushed. " * 30)[:1500]
    box.fill("")
    box.focus()
    page.evaluate("(text) => navigator.clipboard.writeText(text)", long_text)
    page.keyboard.press("Control+V")
    assert box.input_value() == long_text, "a paste of 1,500 characters is kept whole"
    assert counter.inner_text() == "1500 / 1000"
    assert style(page, ".cl-count", "color") != normal and "cl-over" in counter.get_attribute("class")
    reason = hint.inner_text()
    assert hint.is_visible() and "Too long" in reason and "1500" in reason and "1000" in reason, reason
    assert box.get_attribute("aria-invalid") == "true"
    described = box.get_attribute("aria-describedby").split()
    assert "cl-hint" in described and "cl-count" in described, "screen readers hear the reason with the box"
    hint_box, input_box = hint.bounding_box(), box.bounding_box()
    assert 0 <= hint_box["y"] - (input_box["y"] + input_box["height"]) < 40, "the reason shows near the box"

    customers = count(page, ".cl-msg.cl-customer")
    box.press("Enter")
    page.wait_for_timeout(500)
    assert count(page, ".cl-msg.cl-customer") == customers, "refused: not sent"
    assert box.input_value() == long_text and hint.is_visible(), "not cut, the reason still there"
    assert box.evaluate("el => el === document.activeElement")
    screenshot(page, f"widget-long-text-{size}")

    box.fill("where is my order")
    assert counter.is_hidden() and hint.is_hidden() and box.get_attribute("aria-invalid") is None
    say(page, "where is my order")
    assert "My parcel came" not in texts(page)
    context.close()


def _focus_ring(page, selector: str, background_of: str) -> float:
    """The contrast of `selector`'s focus ring against the background around it."""
    assert page.locator(selector).first.evaluate("el => el.matches(':focus-visible')"), f"{selector} has focus"
    assert style(page, selector, "outline-style") == "solid"
    assert float(style(page, selector, "outline-width").rstrip("px")) >= 2
    return contrast(page, style(page, selector, "outline-color"), style(page, background_of, "background-color"))


@pytest.mark.parametrize("size", SIZES)
def test_focus_rings_and_the_box_border_have_3_to_1_contrast(system, browser, size):  # noqa: F811
    context = new_context(browser, **SIZES[size])
    page = open_chat(context, system)
    form = ".cl-form"
    assert style(page, form, "background-color") == "rgb(255, 255, 255)"
    border = contrast(page, style(page, "#cl-input", "border-top-color"), style(page, "#cl-input", "background-color"))
    around = contrast(page, style(page, "#cl-input", "border-top-color"), style(page, form, "background-color"))
    assert border >= 3 and around >= 3, (border, around)
    assert _focus_ring(page, "#cl-input", form) >= 3

    say(page, "zxqv blorp wug")  # suggestions: buttons on the conversation's background
    page.locator(".cl-quick button").first.wait_for(timeout=WAIT_MS)
    page.locator(".cl-quick button").first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus (focus-visible)
    assert _focus_ring(page, ".cl-quick button:focus", ".cl-log") >= 3
    send = page.locator(".cl-send").last
    send.focus()
    assert _focus_ring(page, ".cl-form .cl-send", form) >= 3
    page.locator(".cl-close").focus()
    assert _focus_ring(page, ".cl-close", ".cl-header") >= 3, "on the blue header too"
    screenshot(page, f"widget-focus-{size}")
    context.close()
