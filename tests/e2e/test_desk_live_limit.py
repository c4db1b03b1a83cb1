"""A desk session holds a few live streams (one per tab; careline.desk.live.STREAMS_PER_SESSION): in real
Chromium, against the running system, a tab opened when the session holds them all is refused a stream
(429) and still shows new messages and the queue, fetched every 5 seconds, and says so under the queue.
Screenshot: test-artifacts/desk-live-limit.png."""
from __future__ import annotations

import contextlib
import re
import secrets
import socket
import time
from typing import List, Tuple
from urllib.parse import urlsplit

import pytest

from careline.desk import live
from careline.shared.settings import load_settings
from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.desk_client import DeskClient

pytestmark = pytest.mark.e2e

WAIT_MS = 45_000


def _stream(desk_url: str, cookies: str, path: str) -> Tuple[int, socket.socket]:
    """Open a server-sent event stream as the browser's session would (a tab elsewhere): (status, socket)."""
    url = urlsplit(desk_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nCookie: {cookies}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    status = int(sock.makefile("rb").readline().split()[1])
    return status, sock


def test_a_tab_beyond_the_sessions_live_streams_refreshes_every_five_seconds_and_says_so(system, browser):  # noqa: F811
    settings = load_settings(environ=system.env)
    sender = f"desk-live-{secrets.token_hex(5)}"
    system.say(sender, "where is my parcel")
    assert "bringing in a person" in " ".join(system.say(sender, "THIS IS USELESS, get me a human now!!!"))
    ticket = DeskClient(system, "agent").ticket_of(sender)

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    desk = context.new_page()
    desk.goto(f"{settings.desk_url}/queue")
    desk.get_by_label("Email").fill("ana.rivera@harborpine.example")
    desk.get_by_label("Password").fill(settings.desk_agent_password)
    desk.get_by_role("button", name="Sign in").click()
    desk.get_by_role("heading", name="Waiting for a person").wait_for(timeout=WAIT_MS)
    desk.goto("about:blank")  # the queue page's own stream goes
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(settings.desk_url))
    held: List[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        while True:  # the session's other tabs: as many streams as it may hold
            status, sock = _stream(settings.desk_url, cookies, "/api/queue/stream")
            if status == 200:
                held.append(sock)
            else:
                sock.close()
                if len(held) == live.STREAMS_PER_SESSION:
                    break
                time.sleep(0.2)  # the queue page's stream is not given back yet
            assert time.monotonic() < deadline and len(held) <= live.STREAMS_PER_SESSION, len(held)

        desk.goto(f"{settings.desk_url}/tickets/{ticket}")
        status_line = desk.locator("#live-status")
        status_line.filter(has_text=re.compile(r"Too many desk tabs are live: this one refreshes every 5 s\.$")
                           ).wait_for(timeout=WAIT_MS)
        assert desk.locator(f"#queue-list [data-ticket='{ticket}']").count() == 1, "the queue is there"
        said = time.monotonic()
        system.say(sender, "hello?? is anyone there")
        desk.locator("#transcript li", has_text="hello?? is anyone there").wait_for(timeout=WAIT_MS)
        took = time.monotonic() - said
        print(f"\nwithout a live stream, a customer's message reached the desk in {took:.1f} s")
        assert took < 5 + 3, "within one round of polling (and the bot server's own time)"
        screenshot(desk, "desk-live-limit")
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        context.close()
