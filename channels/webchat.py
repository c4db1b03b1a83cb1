"""The website chat socket: Rasa's socket.io channel with server-issued, unguessable sessions.

Sessions are issued and remembered by the server (careline.access.web_sessions, the `web_sessions` table):
a token we did not issue, or one revoked or expired, gets a fresh token and a new conversation.

Protocol (socket.io events):
  client -> session_request {"session_id": <token or null>}
  server -> session_confirm <token>     (a fresh token unless the one sent is a live session we issued)
  server -> history [{"role": customer|bot|agent|system, "text", "at", "agent"?, "initials"?, "system"?,
                      "buttons"?, "image"?, "links"?}, ...]
  server -> conversation_state {"waiting", "team_open", "eta_minutes", "back", "agent", "initials",
                                "email_known", "revision": [tickets, events]}   after history, after each
                                          message, when the desk pokes; reads race (off the event loop,
                                          several servers), so the widget drops one whose revision is
                                          below the newest it applied (careline.handoff.customer_view)
  client -> user_uttered {"message": str}   (any metadata the client sends is dropped: a clicked
                                          button reads as its title from the bot's own offer)
  server -> bot_uttered {"text", "quick_replies"?, "attachment"?, "at", "agent"?, "initials"?, "system"?,
                         "links"?}  to every tab of the session (an agent's name comes from the bot
                         event's metadata, tracking numbers link to the carrier's page from shop.yml)
  server -> agent_typing {"agent", "initials", "typing"}   when the desk says an agent types
  client -> seen {"at": <Unix seconds of the newest message on screen>}   recorded at most every 2 s
                                          per conversation, however many sockets send it, within a
                                          budget per client address; compared with the newest
                                          message the server sent (remembered, no tracker read)
                                          (careline.access.seen_marks; unseen agent replies go by
                                          email, careline.notify.unseen_replies)
  server -> session_required {}           a message came before session_request, or the session ended
  client -> session_end {}                 the customer ends the chat: the session is revoked
  server -> session_ended {}
Messages are checked by the shared gate (length, per-sender and per-address rates); a refused
message gets a polite bot_uttered with "error" set and never reaches the bot. While the shared
rate limits (Redis) do not answer, a message or session request gets a polite bot_uttered with
"error": "unavailable" (try again in a moment) and nothing else happens; a `seen` mark is dropped. Packets are parsed
with careline.shared.safe_json (deep nesting and lone surrogates are dropped).

HTTP: POST /webhooks/socketio/agent_event?token=<the Rasa server's auth token> with
{"conversation_id", "kind": "typing"|"state", "agent"?, "typing"?} (the desk's pokes): 200 {"ok": true},
401 without the token (constant-time compare), 400 for a malformed body, 413 for a body over 2 KB.
It reaches only the sockets of that conversation.
"""
from __future__ import annotations

import asyncio
import json
import logging
import types
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from socketio import AsyncServer

from careline.access import channel_metadata, webchat
from careline.access.seen_marks import SeenMarks, SeenPacing, seen_moment
from careline.access.web_sessions import WebSessions
from careline.db.engine import make_engine
from careline.handoff import CustomerView, WaitSettings
from careline.shared import render, safe_json, utcnow
from careline.shared.carriers import Carrier
from careline.shared.ratelimit import RateLimitUnavailable
from careline.shared.unavailable import Unavailable
from channels.guard import arrivals, client_address, gate, reads, report_unavailable, seen_writes, settings
from components.waiting_policy import TICKET_SLOT

logger = logging.getLogger(__name__)

#: What python-socketio and python-engineio parse packets with.
SAFE_JSON = types.SimpleNamespace(loads=safe_json.loads, dumps=json.dumps)



@lru_cache(maxsize=1)
def store() -> Engine:
    """The shop store (opened on first use, never at import)."""
    return make_engine(settings().store_db_url)


@lru_cache(maxsize=1)
def sessions() -> WebSessions:
    """The store of issued sessions."""
    return WebSessions(store())


@lru_cache(maxsize=1)
def seen_marks() -> SeenMarks:
    """What each website customer has seen."""
    return SeenMarks(store())


@lru_cache(maxsize=1)
def seen_pacing() -> SeenPacing:
    """When each conversation's `seen` marks are written, and the newest message the server sent it."""
    return SeenPacing(per_address=seen_writes())


@lru_cache(maxsize=1)
def customer_view() -> CustomerView:
    """A conversation's state for its customer (the widget's header)."""
    return CustomerView(store(), settings().shop, WaitSettings.from_mapping(settings().policy_section("handoff")))


def carriers() -> Sequence[Carrier]:
    """The carriers' tracking pages (shop.yml, read again when the file changes)."""
    return settings().shop().carriers


class WebChatOutput(SocketIOOutput):
    """Rasa's socket.io output, telling the widget who speaks, when, and which tracking numbers are links.

    Rasa hands each output method the rest of the bot event's dictionary (`BotUttered.message()`: its
    `timestamp` and its metadata, e.g. {"agent": "Ana Rivera", "system": "joined"}) as keyword
    arguments; Rasa's own output drops them, so an agent's name never reached a live widget.
    """

    def _fields(self, text: str, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        return webchat.bot_fields(text, kwargs, carriers())

    async def _send_message(self, socket_id: str, response: Any) -> None:
        """Emit to the conversation's room, remembering when its newest message was sent (`seen`)."""
        if isinstance(response, dict):
            seen_pacing().sent(socket_id, [response.get("at")])
        await super()._send_message(socket_id, response)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part, **self._fields(part, kwargs)})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        parts = text.strip().split("\n\n") or [text]
        for number, part in enumerate(parts, start=1):
            message: Dict[str, Any] = {"text": part, "quick_replies": [], **self._fields(part, kwargs)}
            if number == len(parts):  # the buttons go with the last part
                message["quick_replies"] = [{"content_type": "text", "title": b["title"], "payload": b["payload"]}
                                            for b in buttons]
            await self._send_message(recipient_id, message)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"attachment": {"type": "image", "payload": {"src": image}},
                                                **self._fields("", kwargs)})

    async def send_attachment(self, recipient_id: str, attachment: Dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"attachment": attachment, **self._fields("", kwargs)})


class _Blueprint(SocketBlueprint):
    """Remembers the app, whose agent holds the tracker store the history comes from."""

    def __init__(self, channel: WebChatInput, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: Dict[str, Any]) -> None:
        self.ctx.channel.app = app
        super().register(app, options)


def _shared_rooms(redis_url: str) -> Dict[str, Any]:
    """With several Rasa servers (CARELINE_REDIS_URL), a socket lives on one of them while an agent's reply,
    a typing poke or a follow-up may reach another through the HTTP API: the rooms are shared through
    Redis (python-socketio's AsyncRedisManager), so every emit reaches the socket wherever it is."""
    if not redis_url:
        return {}
    from socketio import AsyncRedisManager

    return {"client_manager": AsyncRedisManager(redis_url, channel="careline-webchat")}


class WebChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(credentials.get("user_message_evt", "user_uttered"),
                   credentials.get("bot_message_evt", "bot_uttered"),
                   credentials.get("socketio_path", "/socket.io"))

    def __init__(self, user_message_evt: str = "user_uttered", bot_message_evt: str = "bot_uttered",
                 socketio_path: str = "/socket.io") -> None:
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.socketio_path = socketio_path
        self.sio: Optional[AsyncServer] = None
        self.app: Optional[Sanic] = None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Used by Rasa's API (e.g. an agent's reply): sends to every open tab of the conversation."""
        return WebChatOutput(self.sio, self.bot_message_evt) if self.sio else None

    async def _tracker(self, sender: str) -> Optional[DialogueStateTracker]:
        """The stored conversation, read once a turn in progress has been stored (under the conversation's
        lock: a page reloaded while the bot answers still shows the message it just sent)."""
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        lock_store = getattr(agent, "lock_store", None)
        if lock_store is None:
            stored: Optional[DialogueStateTracker] = await agent.tracker_store.retrieve(sender)
            return stored
        async with lock_store.lock(sender):
            tracker: Optional[DialogueStateTracker] = await agent.tracker_store.retrieve(sender)
        return tracker

    def _history(self, tracker: Optional[DialogueStateTracker]) -> List[Dict[str, Any]]:
        return webchat.history((e.as_dict() for e in tracker.events), carriers()) if tracker else []

    async def _state(self, sender: str, tracker: Optional[DialogueStateTracker]) -> Dict[str, Any]:
        """The conversation's `conversation_state` (careline.handoff.conversation_state)."""
        with_a_person = bool(tracker is not None and tracker.get_slot(TICKET_SLOT))
        state = await asyncio.to_thread(customer_view().state, sender, with_a_person)
        return state.as_dict()

    async def _emit_state(self, sender: str) -> None:
        """Tell every tab of the conversation its state (logged, never raised: it must not stop a reply).

        After each message and on the desk's pokes the state comes from the ticket store alone: the
        conversation waits for a person while its latest ticket is open or assigned (the bot sets the
        `handoff_ticket` slot with the ticket and clears it after the ticket is finished), so no turn
        pays for loading the whole conversation again."""
        assert self.sio is not None
        try:
            state = (await asyncio.to_thread(customer_view().state, sender, True)).as_dict()
        except Exception:  # noqa: BLE001 - the chat goes on without a fresh header
            logger.exception("webchat: the state of %s could not be read", sender)
            return
        await self.sio.emit("conversation_state", state, room=sender)

    @staticmethod
    async def _record_seen(sender: str, wait_s: float = 0.0) -> None:
        """Write the conversation's newest waiting `seen` mark (after `wait_s`, its turn), unless it
        moves the stored one too little; compared with the newest message the server sent it."""
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        pacing = seen_pacing()
        at = pacing.take(sender)
        if at is None:
            return
        moment = seen_moment(at, pacing.newest(sender), utcnow())
        if moment is None or not pacing.worth_writing(sender, moment):
            return
        try:
            pacing.written(sender, await asyncio.to_thread(seen_marks().mark, sender, moment))
        except Exception:  # noqa: BLE001 - a lost mark means at worst an email the customer did not need
            logger.exception("webchat: the seen mark of %s could not be recorded", sender)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=list(settings().allowed_web_origins),
                          json=SAFE_JSON, **_shared_rooms(settings().redis_url))
        self.sio = sio
        blueprint = _Blueprint(self, sio, self.socketio_path, "careline_socketio", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect")
        async def connect(sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            address = client_address(request)
            await sio.save_session(sid, {"address": address,
                                         "client": channel_metadata.client_name("web", address)})
            return True

        async def _leave_conversation(sid: str) -> Dict[str, Any]:
            session = await sio.get_session(sid)
            for room in sio.rooms(sid):
                if room != sid:
                    await sio.leave_room(sid, room)
            session = {key: value for key, value in session.items() if key != "sender"}
            await sio.save_session(sid, session)
            return session

        async def _unavailable(sid: str, what: str, error: Unavailable) -> None:
            """Tell this socket only: a shared part does not answer, so nothing goes on (logged, rate-limited)."""
            report_unavailable("webchat", what, error)
            await sio.emit(self.bot_message_evt, {"text": render("utter_systems_unavailable"), "error": "unavailable"},
                           room=sid)

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            token = (data or {}).get("session_id") if isinstance(data, dict) else None
            session = await _leave_conversation(sid)
            try:  # each request costs a store query; off the event loop, as Redis may be slow to answer
                read = await asyncio.to_thread(reads().hit, session.get("address", "unknown"))
            except RateLimitUnavailable as error:
                await _unavailable(sid, "a session request", error)
                return
            if not read.allowed:
                await sio.emit(self.bot_message_evt, {"text": render("utter_slow_down"), "error": "rate_limited"},
                               room=sid)
                return
            try:
                opened = await asyncio.to_thread(sessions().open, token, session.get("client", "web:unknown"))
            except Exception:  # noqa: BLE001 - no session without the store
                logger.exception("webchat: the session store failed")
                await sio.emit(self.bot_message_evt, {"text": render("utter_systems_unavailable"),
                                                      "error": "internal_error"}, room=sid)
                return
            sender = opened.sender
            await sio.save_session(sid, {**session, "sender": sender})
            await sio.enter_room(sid, sender)
            await sio.emit("session_confirm", opened.token, room=sid)
            tracker = await self._tracker(sender)
            history = self._history(tracker)
            seen_pacing().sent(sender, [item.get("at") for item in history if item.get("role") != "customer"])
            await sio.emit("history", history, room=sid)
            try:
                await sio.emit("conversation_state", await self._state(sender, tracker), room=sid)
            except Exception:  # noqa: BLE001 - the chat works without its header's state
                logger.exception("webchat: the state of %s could not be read", sender)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any) -> None:
            async with arrivals().turn(f"socket:{sid}"):  # before any await: a socket's messages stay in order
                await handle_message_in_turn(sid, data)

        async def handle_message_in_turn(sid: str, data: Any) -> None:
            session = await sio.get_session(sid)
            sender = session.get("sender")
            if not sender:
                await sio.emit("session_required", {}, room=sid)
                return
            text = data.get("message") if isinstance(data, dict) else None
            try:
                verdict = await asyncio.to_thread(gate().check, sender, session.get("address", "unknown"),
                                                  text if isinstance(text, str) else "")
            except RateLimitUnavailable as error:
                await _unavailable(sid, "a message", error)
                return
            if not verdict.ok:
                await sio.emit(self.bot_message_evt, {"text": verdict.reply, "error": verdict.error}, room=sid)
                return
            try:
                live = await asyncio.to_thread(sessions().touch, sender)
            except Exception:  # noqa: BLE001 - without the store the session cannot be checked
                logger.exception("webchat: the session store failed")
                await sio.emit(self.bot_message_evt, {"text": render("utter_systems_unavailable"),
                                                      "error": "internal_error"}, room=sid)
                return
            if not live:  # revoked or expired since the session was confirmed
                await _leave_conversation(sid)
                await sio.emit(self.bot_message_evt, {"text": render("utter_session_ended"), "error": "session_ended"},
                               room=sid)
                await sio.emit("session_required", {}, room=sid)
                return
            metadata = channel_metadata.with_client({}, session.get("client", "web:unknown"))
            output = WebChatOutput(sio, self.bot_message_evt)
            try:
                await on_new_message(UserMessage(text, output, sender, input_channel=self.name(),
                                                 metadata=metadata))
            except Unavailable as error:  # the database or the locks: the message was not handled
                await _unavailable(sid, "a message", error)
                return
            except Exception:  # noqa: BLE001 - tell the customer instead of going silent
                logger.exception("webchat: handling a message from %s failed", sender)
                await sio.emit(self.bot_message_evt, {"text": render("utter_channel_error"), "error": "internal_error"},
                               room=sid)
                return
            await self._emit_state(sender)

        @sio.on("seen")
        async def seen(sid: str, data: Any = None) -> None:
            at = webchat.unix_time(data.get("at")) if isinstance(data, dict) else None
            if at is None:
                return
            session = await sio.get_session(sid)
            sender = session.get("sender")
            if not sender:
                return
            try:
                wait_s = seen_pacing().offer(sender, session.get("address", "unknown"), at)
            except RateLimitUnavailable as error:  # a lost mark costs at most an email the customer did not need
                report_unavailable("webchat", "a seen mark", error)
                return
            if wait_s is None:  # it joined the mark waiting for its turn, or its address wrote enough lately
                return
            if wait_s:
                sio.start_background_task(self._record_seen, sender, wait_s)
            else:
                await self._record_seen(sender)

        @blueprint.route("/agent_event", methods=["POST"])
        async def agent_event(request: Request) -> HTTPResponse:
            """The desk's pokes: an agent types (agent_typing) or the conversation's state changed."""
            if not webchat.token_matches(settings().auth_token, request.args.get("token")):
                return response.json({"error": "unauthorized"}, status=401)
            if len(request.body or b"") > webchat.MAX_AGENT_EVENT_BYTES:
                return response.json({"error": "too_large"}, status=413)
            event = webchat.agent_event(safe_json.loads_or_none(request.body or b""))
            if event is None:
                return response.json({"error": "bad_request"}, status=400)
            if event.for_the_widget and event.kind == "typing":
                await sio.emit("agent_typing", event.typing_event(), room=event.conversation_id)
            elif event.for_the_widget:
                await self._emit_state(event.conversation_id)
            return response.json({"ok": True})

        @sio.on("session_end")
        async def session_end(sid: str, _: Any = None) -> None:
            session = await sio.get_session(sid)
            sender = session.get("sender")
            if sender:
                await asyncio.to_thread(sessions().revoke, sender)
                await sio.emit("session_ended", {}, room=sender)
                await sio.close_room(sender)  # other tabs learn it with their next message
                await _leave_conversation(sid)

        return blueprint
