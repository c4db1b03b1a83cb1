"""A local mail catcher for `make run`/`make up` when no mail server is configured (CARELINE_SMTP_HOST unset).

    python -m ops.mail_catcher --port PORT --dir DIR

An SMTP server (aiosmtpd) on 127.0.0.1 that delivers nothing: every message it receives is saved as
DIR/<time>-<n>.eml (folder 700, files 600), so the demo shows the emails the bot promised (the return
label, the reshipment notice) without sending anything off this machine. The supervisor points the
worker at it and prints its folder.
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

from aiosmtpd.controller import Controller

from careline.shared.settings import load_settings


class SaveToFolder:
    """aiosmtpd handler: each message's bytes, as received, into a file of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}-{next(self._numbers):05d}.eml"
        path = self.folder / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(envelope.original_content or envelope.content)
        print(f"mail: saved {path.name} for {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 OK: saved, not sent"


def main(argv: List[str]) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=settings.mail_port)
    parser.add_argument("--dir", type=Path, default=settings.mail_dir)
    args = parser.parse_args(argv)
    args.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    controller = Controller(SaveToFolder(args.dir), hostname=settings.host, port=args.port)
    controller.start()
    print(f"mail: catching on {settings.host}:{args.port}, saving to {args.dir}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
