"""Facebook Messenger, configured from environment secrets (CARELINE_FB_*), never from files.

GET  /webhooks/facebook/webhook   the subscription handshake (hub.challenge) or 403
POST /webhooks/facebook/webhook   signature first (X-Hub-Signature-256, else 403), then the messages
A delivery Facebook repeats (same message id) is handled once. We answer 200 only after the
messages are stored, so a crash means a redelivery, never a lost message. While the shared rate
limits (Redis) do not answer, a message gets a polite "try again" instead of the bot and Facebook
still gets 200 (it would redeliver for hours otherwise); the refusals are logged as errors.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.access import channel_metadata, messenger
from careline.shared import render, safe_json
from careline.shared.ratelimit import RateLimitUnavailable
from channels.guard import gate, report_unavailable, settings

logger = logging.getLogger(__name__)

SEND_ATTEMPTS = 3
SEND_TIMEOUT_S = 10
REMEMBERED_IDS = 10_000


class MessengerOutput(OutputChannel):
    """Sends bot messages with the Graph API's Send API."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    def __init__(self, graph_url: str, page_token: str) -> None:
        self._url = f"{graph_url}/me/messages"
        self._token = page_token

    async def _post(self, recipient_id: str, message: Dict[str, Any]) -> None:
        body = {"recipient": {"id": messenger.recipient(recipient_id)}, "messaging_type": "RESPONSE",
                "message": message}
        timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT_S)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                        self._url, params={"access_token": self._token}, json=body) as answer:
                    if answer.status < 500:
                        if answer.status >= 400:
                            logger.error("messenger: the Send API refused a message (%s): %s",
                                         answer.status, (await answer.text())[:300])
                        return
                    problem = f"HTTP {answer.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                problem = type(error).__name__
            logger.warning("messenger: sending failed (%s), attempt %d of %d", problem, attempt, SEND_ATTEMPTS)
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))

    async def _post_all(self, recipient_id: str, messages: Iterable[Dict[str, Any]]) -> None:
        for message in messages:
            await self._post(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._post_all(recipient_id, messenger.text_messages(text))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._post_all(recipient_id, messenger.text_messages(text, buttons))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._post(recipient_id, messenger.image_message(image))

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        await self._post(recipient_id, json_message)


class _RecentIds:
    """Message ids seen lately in this process (a cheap first check before the tracker)."""

    def __init__(self, size: int = REMEMBERED_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, message_id: str) -> bool:
        """False when the id was already there."""
        if message_id in self._ids:
            return False
        self._ids[message_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True

    def discard(self, message_id: str) -> None:
        self._ids.pop(message_id, None)


class MessengerInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls()

    def __init__(self) -> None:
        self._recent = _RecentIds()

    def get_output_channel(self) -> Optional[OutputChannel]:
        current = settings()
        return MessengerOutput(current.fb_graph_url, current.fb_page_token) if current.messenger_configured else None

    @staticmethod
    async def _already_stored(request: Request, sender_id: str, message_id: str) -> bool:
        agent = request.app.ctx.agent
        tracker = await agent.tracker_store.retrieve(sender_id) if agent and agent.tracker_store else None
        return tracker is not None and any(isinstance(e, UserUttered) and e.message_id == message_id
                                           for e in reversed(tracker.events))

    async def _handle(self, request: Request, incoming: messenger.Incoming, output: MessengerOutput,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        if not self._recent.add(incoming.message_id) or await self._already_stored(
                request, incoming.sender_id, incoming.message_id):
            logger.info("messenger: ignoring redelivered message %s", incoming.message_id)
            return
        try:
            try:
                verdict = await asyncio.to_thread(gate().check, incoming.sender_id, "", incoming.text)
            except RateLimitUnavailable as error:  # answered, not redelivered: Facebook would retry for hours
                report_unavailable("messenger", "a message (not handled, not redelivered)", error)
                await output.send_text_message(incoming.sender_id, render("utter_systems_unavailable"))
                return
            if not verdict.ok:
                await output.send_text_message(incoming.sender_id, verdict.reply)
                return
            client = channel_metadata.client_name("messenger", incoming.psid)  # deliveries come from Facebook
            await on_new_message(UserMessage(incoming.text, output, incoming.sender_id,
                                             input_channel=self.name(), message_id=incoming.message_id,
                                             metadata=channel_metadata.with_client(None, client)))
        except Exception:
            self._recent.discard(incoming.message_id)  # let Facebook's redelivery try again
            raise

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("careline_messenger_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if settings().messenger_configured else "not configured"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            current = settings()
            if not current.messenger_configured:
                return response.json({"error": "messenger_not_configured"}, status=503)
            if messenger.verify_subscription(current.fb_verify_token, request.args.get("hub.mode"),
                                             request.args.get("hub.verify_token")):
                return response.text(request.args.get("hub.challenge", ""))
            return response.json({"error": "verification_failed"}, status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            current = settings()
            if not current.messenger_configured:
                return response.json({"error": "messenger_not_configured"}, status=503)
            if not messenger.verify_signature(current.fb_app_secret, request.body or b"",
                                              request.headers.get("X-Hub-Signature-256")):
                return response.json({"error": "invalid_signature"}, status=403)
            try:
                incoming = messenger.incoming_messages(safe_json.loads(request.body or b""))
            except (ValueError, AttributeError, TypeError) as error:  # JSONRejected and MalformedDelivery too
                return response.json({"error": "malformed_delivery", "detail": str(error)[:200]}, status=400)
            output = MessengerOutput(current.fb_graph_url, current.fb_page_token)
            try:
                for message in incoming:
                    await self._handle(request, message, output, on_new_message)
            except Exception:  # noqa: BLE001 - a 500 makes Facebook deliver the rest again
                logger.exception("messenger: handling a delivery failed")
                return response.json({"error": "internal_error"}, status=500)
            return response.text("EVENT_RECEIVED")

        return webhook
