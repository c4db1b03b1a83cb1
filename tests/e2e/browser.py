"""Real Chromium (Debian's package) driven by Playwright, with screenshots kept as test artifacts."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from careline.shared.settings import PROJECT_ROOT

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
#: The screen sizes the browser tests try: a desktop and a phone.
DESKTOP: Dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: Dict[str, Any] = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}
SIZES: Dict[str, Dict[str, Any]] = {"desktop": DESKTOP, "phone": PHONE}


def chromium_path() -> str:
    path = os.environ.get("CARELINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is missing: run `make browser` (installs Debian's chromium package) "
                    "or set CARELINE_CHROMIUM to a Chromium binary")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield instance
        finally:
            instance.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def held_requests(page: Any, pattern: str) -> List[Any]:
    """Hold the page's requests to URLs matching `pattern` (Playwright routes, in the order they come) until
    the test lets each go (`continue_`, `fulfill`); wait for them with `wait_for_held`."""
    held: List[Any] = []
    page.route(pattern, lambda route: held.append(route))
    return held


def wait_for_held(page: Any, held: List[Any], count: int, timeout_ms: int = 45_000) -> None:
    """Until `count` requests are held (the page's events are handled while it waits)."""
    for _ in range(timeout_ms // 50):
        if len(held) >= count:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{count} held requests expected, {len(held)} came")
