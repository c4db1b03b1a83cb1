"""The REST channel with honest status codes, limits and no shared "default" conversation.

REST is for trusted server-to-server integrations: both routes need
`Authorization: Bearer <CARELINE_REST_TOKEN>` (checked first, in constant time); 401 with
WWW-Authenticate without it, and 503 `rest_disabled` while no token is configured.

POST /webhooks/rest/webhook  {"sender": "...", "message": "...", "metadata": {...}}
  200 [bot messages]    400 bad JSON, missing sender or text    413 message too long (or metadata over 4 KB)
  415 not JSON          429 too many messages (Retry-After)      500 the bot failed (nothing half-done)
  401 no or wrong credential                                     503 the channel is not configured, or
                                                                     `unavailable`: the shared rate limits
                                                                     (Redis) do not answer (Retry-After)
Error bodies: {"error": code, "detail": why, "messages": [a polite answer to show the customer]}.
`metadata` is bounded (careline.access.channel_metadata) and gets `careline_client: "rest:<address>"`,
where the address is the integration's own unless it names its customer's in `X-Careline-Client`
(failed identity checks and handoffs are counted per client, so an integration serving many
customers should send it: otherwise one careless customer locks the checks for all of them).

GET /webhooks/rest/messages?sender=...&after=<unix time>
  What the bot and agents said later than `after` (a REST client cannot be pushed to, so it asks:
  this is how a person's replies from the agent desk reach a REST customer).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, cast

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.access import channel_metadata
from careline.access.integration_auth import check_bearer
from careline.shared import render, safe_json
from careline.shared.ratelimit import RateLimitUnavailable
from careline.shared.unavailable import Unavailable
from channels.guard import (arrivals, client_address, gate, reads, report_unavailable, retry_after,
                            sender_problem, settings)

logger = logging.getLogger(__name__)

MAX_MESSAGES = 100
CLIENT_HEADER = "X-Careline-Client"  # the integration's own customer's address (it is trusted)


def _error(status: int, code: str, detail: str, sender: Optional[str] = None, reply: str = "",
           headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    messages: List[Dict[str, Any]] = [{"recipient_id": sender, "text": reply}] if reply and sender else []
    return response.json({"error": code, "detail": detail, "messages": messages}, status=status, headers=headers)


def _unavailable(error: Unavailable, what: str, sender: Optional[str] = None) -> HTTPResponse:
    """503: a shared part (rate limits, conversation database, conversation locks) does not answer, so
    nothing goes on without it (logged, rate-limited)."""
    report_unavailable("rest", what, error)
    return _error(503, "unavailable", f"{error.part} {'are' if error.part.endswith('s') else 'is'} unavailable "
                  "for a moment; try again after Retry-After seconds", sender, render("utter_systems_unavailable"),
                  retry_after(error))


def _refused(request: Request) -> Optional[HTTPResponse]:
    """The answer to a caller without the integration credential, or None for a trusted caller."""
    verdict = check_bearer(settings().rest_token, request.headers.get("Authorization"))
    return None if verdict.ok else _error(verdict.status, verdict.error, verdict.detail, headers=verdict.headers)


class RestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("careline_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/messages", methods=["GET"])
        async def messages(request: Request) -> HTTPResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            try:
                verdict = await asyncio.to_thread(reads().hit, client_address(request))  # Redis may be slow
            except RateLimitUnavailable as error:
                return _unavailable(error, "a read of messages")
            if not verdict.allowed:
                return _error(429, "rate_limited", "too many requests",
                              headers={"Retry-After": str(max(1, round(verdict.retry_after_s + 0.5)))})
            sender = request.args.get("sender")
            problem = sender_problem(sender)
            if problem:
                return _error(400, "bad_sender", problem)
            try:
                after = float(request.args.get("after") or 0)
            except ValueError:
                return _error(400, "bad_after", "'after' is a unix time in seconds")
            agent = request.app.ctx.agent
            tracker = await agent.tracker_store.retrieve(sender) if agent and agent.tracker_store else None
            said = [event for event in (tracker.events if tracker else []) if isinstance(event, BotUttered)
                    and (event.timestamp or 0) > after]
            return response.json([
                {"recipient_id": sender, "text": event.text, "timestamp": event.timestamp,
                 **({"buttons": event.data["buttons"]} if (event.data or {}).get("buttons") else {}),
                 **({"agent": event.metadata["agent"]} if (event.metadata or {}).get("agent") else {})}
                for event in said[-MAX_MESSAGES:]
            ])

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            if (request.content_type or "").split(";")[0].strip().lower() != "application/json":
                return _error(415, "unsupported_media_type", "send the message as application/json")
            try:
                body = safe_json.loads(request.body or b"")
            except safe_json.JSONRejected as error:
                return _error(400, error.code, error.detail)
            if not isinstance(body, dict):
                return _error(400, "malformed_json", "the body must be a JSON object")
            sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata")
            problem = sender_problem(sender)
            if problem:
                return _error(400, "bad_sender", problem)
            sender = cast(str, sender)  # sender_problem accepts only a string
            if not isinstance(text, str):
                return _error(400, "missing_message", "a 'message' string is required", sender)
            bad = channel_metadata.metadata_problem(metadata)
            if bad:
                return _error(bad.status, bad.error, bad.detail, sender)
            async with arrivals().turn(sender):  # before any await: no later message overtakes this one
                return await answer(request, sender, text, metadata)

        async def answer(request: Request, sender: str, text: str, metadata: Any) -> HTTPResponse:
            try:
                verdict = await asyncio.to_thread(gate().check, sender, client_address(request), text)
            except RateLimitUnavailable as error:
                return _unavailable(error, "a message", sender)
            if not verdict.ok:
                return _error(verdict.status, verdict.error, verdict.error.replace("_", " "), sender,
                              verdict.reply, verdict.headers())
            client = channel_metadata.client_name("rest", request.headers.get(CLIENT_HEADER) or client_address(request))
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                                 metadata=channel_metadata.with_client(metadata, client)))
            except Unavailable as error:  # the database or the locks: 503, the message was not handled
                return _unavailable(error, "a message", sender)
            except Exception:  # noqa: BLE001 - the customer gets an answer and the caller a 500
                logger.exception("rest: handling a message from %s failed", sender)
                return _error(500, "internal_error", "the bot could not handle the message", sender,
                              render("utter_channel_failed"))
            return response.json(collector.messages)

        return webhook
