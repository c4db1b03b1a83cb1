"""Serve the demo shop page with the chat widget (web/) on 127.0.0.1.

    python -m ops.web_server [--port PORT]

Only the page's own files are served (no directory listings, no node_modules); `/config.js`
tells the widget where the bot's socket is. Headers keep the page from loading anything else.
`/returns/label/<token>.pdf` serves a return label behind its signed, expiring link
(careline.fulfilment: made from the store, never from the link; 404 or 410 with a short page).
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional

from careline.db import make_engine
from careline.fulfilment import LabelLinks, ReturnLabels
from careline.fulfilment.links import PATH_PREFIX as LABEL_PATH
from careline.shared.settings import Settings, load_settings

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
SIGNED_LINK = re.compile(r"(/returns/label/)[^\s\"?]+")
SERVED_SUFFIXES = {".html", ".css", ".js", ".png", ".svg", ".ico"}
HIDDEN_PARTS = {"node_modules"}


def public_file(root: Path, url_path: str) -> Optional[Path]:
    """The file under `root` that `url_path` names, or None (outside root, hidden, or not a page asset)."""
    relative = url_path.split("?", 1)[0].split("#", 1)[0].lstrip("/") or "index.html"
    candidate = (root / relative).resolve()
    if root.resolve() not in candidate.parents or not candidate.is_file():
        return None
    if candidate.suffix not in SERVED_SUFFIXES or HIDDEN_PARTS & set(candidate.relative_to(root.resolve()).parts):
        return None
    return candidate


def config_script(settings: Settings) -> bytes:
    config = {"socketUrl": settings.chat_url, "socketPath": "/socket.io", "maxChars": settings.max_message_chars}
    return f"window.CARELINE = {json.dumps(config)};\n".encode()


def security_headers(settings: Settings) -> Dict[str, str]:
    socket = settings.chat_url
    websocket = socket.replace("http://", "ws://").replace("https://", "wss://")
    return {
        "Content-Security-Policy": (f"default-src 'self'; connect-src 'self' {socket} {websocket}; "
                                    "img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
                                    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def return_labels(settings: Settings) -> Optional[ReturnLabels]:
    """The return labels behind their links (none without a signing key: then every link is refused)."""
    if not settings.signing_key:
        return None
    links = LabelLinks(settings.signing_key, settings.customer_url, settings.label_link_days)
    return ReturnLabels(make_engine(settings.store_db_url), settings.shop, links)


def make_server(settings: Settings, port: int, root: Path = WEB_ROOT) -> ThreadingHTTPServer:
    headers = security_headers(settings)
    config = config_script(settings)
    labels = return_labels(settings)

    class Handler(BaseHTTPRequestHandler):
        server_version = "careline-web"

        def _send(self, status: int, body: bytes, content_type: str, head_only: bool = False,
                  extra: Optional[Dict[str, str]] = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in {**headers, **(extra or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def _serve(self, head_only: bool) -> None:
            if self.path.split("?", 1)[0] == "/config.js":
                self._send(200, config, "text/javascript; charset=utf-8", head_only)
                return
            if self.path.split("?", 1)[0] == "/health":
                self._send(200, b'{"status": "ok"}', "application/json", head_only)
                return
            if self.path.startswith(LABEL_PATH):
                self._label(head_only)
                return
            path = public_file(root, self.path)
            if path is None:
                self._send(404, b"Not found\n", "text/plain; charset=utf-8", head_only)
                return
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            self._send(200, path.read_bytes(), kind, head_only)

        def _label(self, head_only: bool) -> None:
            private = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
            if labels is None:
                self._send(404, b"Not found\n", "text/plain; charset=utf-8", head_only, private)
                return
            answer = labels.answer(self.path.split("?", 1)[0].split("#", 1)[0])
            if answer.filename:
                private["Content-Disposition"] = f'inline; filename="{answer.filename}"'
            self._send(answer.status, answer.body, answer.content_type, head_only, private)

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self._serve(head_only=False)

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve(head_only=True)

        def log_message(self, fmt: str, *args: object) -> None:
            # a label link is a live key to a customer's name and address: the log keeps none of it
            sys.stderr.write("web: " + SIGNED_LINK.sub(r"\1<link>", fmt % args) + "\n")

    return ThreadingHTTPServer((settings.host, port), Handler)


def main(argv: List[str]) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=settings.web_port)
    args = parser.parse_args(argv)
    server = make_server(settings, args.port)
    print(f"web: serving {WEB_ROOT} on {settings.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
