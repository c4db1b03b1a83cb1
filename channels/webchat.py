"""The website chat socket: Rasa's socket.io channel with server-issued, unguessable sessions.

Sessions are issued and remembered by the server (careline.access.web_sessions, the `web_sessions` table):
a token we did not issue, or one revoked or expired, gets a fresh token and a new conversation.

Protocol (socket.io events):
  client -> session_request {"session_id": <token or null>}
  server -> session_confirm <token>     (a fresh token unless the one sent is a live session we issued)
  server -> history [{"role", "text", "buttons"?, "image"?}, ...]
  client -> user_uttered {"message": str, "metadata": {"display": str}?}
  server -> bot_uttered {"text", "quick_replies"?, "attachment"?}  to every tab of the session
  server -> session_required {}           a message came before session_request, or the session ended
  client -> session_end {}                 the customer ends the chat: the session is revoked
  server -> session_ended {}
Messages are checked by the shared gate (length, per-sender and per-address rates); a refused
message gets a polite bot_uttered with "error" set and never reaches the bot. Packets are parsed
with careline.shared.safe_json (deep nesting and lone surrogates are dropped).
"""
from __future__ import annotations

import asyncio
import json
import logging
import types
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from careline.access import channel_metadata, webchat
from careline.access.web_sessions import WebSessions
from careline.db.engine import make_engine
from careline.shared import render, safe_json
from channels.guard import gate, reads, settings

logger = logging.getLogger(__name__)

#: What python-socketio and python-engineio parse packets with.
SAFE_JSON = types.SimpleNamespace(loads=safe_json.loads, dumps=json.dumps)


@lru_cache(maxsize=1)
def sessions() -> WebSessions:
    """The store of issued sessions (opened on first use, never at import)."""
    return WebSessions(make_engine(settings().store_db_url))


class _Blueprint(SocketBlueprint):
    """Remembers the app, whose agent holds the tracker store the history comes from."""

    def __init__(self, channel: WebChatInput, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: Dict[str, Any]) -> None:
        self.ctx.channel.app = app
        super().register(app, options)


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
        return SocketIOOutput(self.sio, self.bot_message_evt) if self.sio else None

    async def _history(self, sender: str) -> list:
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return []
        tracker = await agent.tracker_store.retrieve(sender)
        return webchat.history(e.as_dict() for e in tracker.events) if tracker else []

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=list(settings().allowed_web_origins),
                          json=SAFE_JSON)
        self.sio = sio
        blueprint = _Blueprint(self, sio, self.socketio_path, "careline_socketio", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect")
        async def connect(sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            address = getattr(request, "ip", None) or "unknown"
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

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            token = (data or {}).get("session_id") if isinstance(data, dict) else None
            session = await _leave_conversation(sid)
            if not reads().hit(session.get("address", "unknown")).allowed:  # each request costs a store query
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
            await sio.emit("history", await self._history(sender), room=sid)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any) -> None:
            session = await sio.get_session(sid)
            sender = session.get("sender")
            if not sender:
                await sio.emit("session_required", {}, room=sid)
                return
            text = data.get("message") if isinstance(data, dict) else None
            verdict = gate().check(sender, session.get("address", "unknown"),
                                   text if isinstance(text, str) else "")
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
            metadata = channel_metadata.with_client(webchat.display_metadata(data.get("metadata")),
                                                    session.get("client", "web:unknown"))
            output = SocketIOOutput(sio, self.bot_message_evt)
            try:
                await on_new_message(UserMessage(text, output, sender, input_channel=self.name(),
                                                 metadata=metadata))
            except Exception:  # noqa: BLE001 - tell the customer instead of going silent
                logger.exception("webchat: handling a message from %s failed", sender)
                await sio.emit(self.bot_message_evt, {"text": render("utter_channel_error"), "error": "internal_error"},
                               room=sid)

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
