"""Locust users for `make bench`: each one plays whole conversations over Rasa's REST webhook.

Run by bench/harness.py (never by hand) with CARELINE_BENCH_PLAN naming a JSON file:

    {"headers": {...}, "samples": "/path/samples.jsonl",
     "conversations": [{"sender": "...", "client": "...", "messages": ["...", ...]}, ...]}

Each user takes the next conversation that nobody has started and sends its messages one after the
other (the next as soon as the reply is in: a closed loop, no think time), then the next conversation,
until none is left; the last one to finish stops the run. Every request's latency is written as one JSON
line by Locust's request event hook: conversation, turn, start time, milliseconds, HTTP status, the number
of bot messages in the reply and the error, if any. A reply that is not 200 with a JSON list is an error.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

PLAN: Dict[str, Any] = json.loads(Path(os.environ["CARELINE_BENCH_PLAN"]).read_text(encoding="utf-8"))
CONVERSATIONS: List[Dict[str, Any]] = PLAN["conversations"]
WEBHOOK = "/webhooks/rest/webhook"
_state = {"next": 0, "done": 0}
_out = Path(PLAN["samples"]).open("a", encoding="utf-8")  # noqa: SIM115 (closed when Locust quits)


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int, response: Any = None,
            context: Optional[Dict[str, Any]] = None, exception: Optional[BaseException] = None,
            start_time: Optional[float] = None, **_: Any) -> None:
    """One JSON line per request (Locust calls this for every request, failed ones too)."""
    context = context or {}
    _out.write(json.dumps({
        "conv": context.get("conv"), "turn": context.get("turn"), "start": start_time,
        "ms": round(float(response_time), 3), "status": getattr(response, "status_code", 0) or 0,
        "replies": context.get("replies", -1), "ok": exception is None,
        "error": None if exception is None else str(exception)[:300],
    }) + "\n")


@events.quitting.add_listener
def _close(**_: Any) -> None:
    _out.close()


class Customer(FastHttpUser):
    """A customer chatting through an integration that holds the REST credential."""

    wait_time = constant(0)
    network_timeout = 120.0
    connection_timeout = 30.0

    @task
    def converse(self) -> None:
        number = _state["next"]
        if number >= len(CONVERSATIONS):
            raise StopUser()
        _state["next"] += 1
        plan = CONVERSATIONS[number]
        headers = dict(PLAN.get("headers") or {})
        if plan.get("client"):
            headers["X-Careline-Client"] = plan["client"]
        try:
            for turn, text in enumerate(plan["messages"], start=1):
                context: Dict[str, Any] = {"conv": number, "turn": turn}
                with self.client.post(WEBHOOK, json={"sender": plan["sender"], "message": text}, headers=headers,
                                      name="turn", context=context, catch_response=True) as response:
                    _judge(response)
        finally:  # a conversation cut short by a surprise still ends the run (the harness sees turns missing)
            _state["done"] += 1
            if _state["done"] >= len(CONVERSATIONS) and self.environment.runner is not None:
                # from a greenlet of its own: quit() stops every user first, this one too, and would not
                # get to stopping the runner if it ran here
                gevent.spawn(self.environment.runner.quit)


def _judge(response: Any) -> None:
    """Mark the reply a failure unless it is 200 with a JSON list; note how many bot messages it has
    (in the context the request event gets: Locust copies the one passed to the request)."""
    if not response.status_code:
        response.failure(f"no answer: {getattr(response, 'error', None) or 'connection failed'}")
        return
    if response.status_code != 200:
        text = (response.text or "").strip()[:200]
        response.failure(f"HTTP {response.status_code}" + (f": {text}" if text else ""))
        return
    try:
        body = response.json()
    except ValueError:
        response.failure(f"not JSON: {(response.text or '')[:200]}")
        return
    if not isinstance(body, list):
        response.failure(f"not a list of messages: {str(body)[:200]}")
        return
    response.request_meta["context"]["replies"] = len(body)
    response.success()
