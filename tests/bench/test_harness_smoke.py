"""A short real run of the Locust harness (from .venv-bench) against a tiny server imitating Rasa's REST webhook.

Not the whole systems (that is `make bench`): 2 customers x 3 turns, checking that every turn arrives in order
with the credential, that every request is measured, that failures count as errors, and that the CPU and
memory of a watched process are measured.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bench import messages
from bench.harness import BENCH_VENV, ROOT

TOKEN = "smoke-test-token-0123456789"


class FakeRest:
    """Answers POST /webhooks/rest/webhook like Rasa (a list of bot messages); every `fail_every`-th request 500."""

    def __init__(self, fail_every: int = 0) -> None:
        self.received: List[Tuple[str, str, str, str]] = []   # sender, message, Authorization, X-Careline-Client
        self.fail_every = fail_every
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.received.append((body["sender"], body["message"], self.headers.get("Authorization", ""),
                                          self.headers.get("X-Careline-Client", "")))
                    failing = fake.fail_every and len(fake.received) % fake.fail_every == 0
                if self.path != "/webhooks/rest/webhook" or failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                reply = json.dumps([{"recipient_id": body["sender"], "text": f"you said {body['message']}"}]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeRest:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def bench_venv() -> Path:
    """.venv-bench with the pinned Locust: `make bench-venv` installs it when missing or changed."""
    result = subprocess.run(["make", "--no-print-directory", "bench-venv"], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"make bench-venv failed:\n{result.stdout}\n{result.stderr}"
    return BENCH_VENV / "bin" / "python"


@pytest.fixture
def fake_rest() -> Iterator[FakeRest]:
    with FakeRest() as fake:
        yield fake


def harness(python: Path, url: str, work: Path, *extra: str) -> Dict[str, Any]:
    try:
        result = subprocess.run([str(python), "-m", "bench.harness", "--url", url, "--token", TOKEN,
                                 "--conversations", "2", "--turns", "3", "--users", "2", "--work-dir", str(work),
                                 "--timeout", "60", *extra], cwd=ROOT, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as error:
        logs = "\n".join(path.read_text(errors="replace")[-3000:] for path in work.glob("*.locust.log"))
        raise AssertionError(f"the harness did not finish: {error}\nLocust's log:\n{logs}") from None
    assert result.returncode == 0, f"the harness failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    output: Dict[str, Any] = json.loads(result.stdout)
    assert output["wall_s"] < 40, "Locust did not stop when the last conversation ended (it ran into --timeout)"
    return output


def test_two_customers_three_turns_each_arrive_in_order_and_are_all_measured(
        bench_venv: Path, fake_rest: FakeRest, tmp_path: Path) -> None:
    output = harness(bench_venv, fake_rest.url, tmp_path, "--watch-pid", str(os.getpid()))
    summary = output["summary"]
    assert summary["requests"] == 6 and summary["answered"] == 6 and summary["errors"] == 0
    assert summary["empty_replies"] == 0
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["msg_per_s"] > 0
    assert sorted((s["conv"], s["turn"]) for s in output["samples"]) == [(c, t) for c in (0, 1) for t in (1, 2, 3)]
    assert all(s["replies"] == 1 and s["status"] == 200 for s in output["samples"])
    # each customer's turns, in order, under one sender and client name of its own, with the credential
    expected = messages.conversations(2, 3)
    by_sender: Dict[str, List[str]] = {}
    for sender, text, authorization, client in fake_rest.received:
        assert authorization == f"Bearer {TOKEN}"
        assert client and sender.endswith(client.split("-")[-1])
        by_sender.setdefault(sender, []).append(text)
    assert sorted(by_sender.values()) == sorted(expected)
    # this test's own process served the requests: its CPU and memory were measured
    watched = output["processes"][f"pid {os.getpid()}"]
    assert watched["cpu_s"] >= 0 and watched["peak_rss_mb"] > 10 and watched["processes"] >= 1
    assert not list(tmp_path.glob("*.plan.json")), "the plan (it holds the credential) was left behind"


def test_failed_requests_count_as_errors_and_the_conversation_goes_on(bench_venv: Path, tmp_path: Path) -> None:
    with FakeRest(fail_every=3) as failing:
        output = harness(bench_venv, failing.url, tmp_path)
        assert len(failing.received) == 6                   # the turns after a failure were still sent
    summary = output["summary"]
    assert summary["requests"] == 6 and summary["errors"] == 2 and summary["answered"] == 4
    assert list(summary["error_kinds"]) == ["HTTP 500"]
    assert sorted(s["ok"] for s in output["samples"]) == [False, False, True, True, True, True]
