"""What the desk asks of the Rasa server, through its token-protected HTTP API.

An agent's reply is a `bot` event appended with `execute_side_effects`, so Rasa sends it through
the conversation's latest channel (the website socket, Messenger) and keeps it in the tracker; so is
a system line ("Ana joined the chat", `announce`). `agent_event` pokes the website widget's server
(the agent is typing, the conversation's state changed). The worker asks through it too: a
follow-up is an external intent triggered on the latest channel.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import quote

import requests

from careline.shared import render, transcript

TIMEOUT_S = 15
#: The widget pokes are small and optional: a slow bot server must not hold a desk thread long.
POKE_TIMEOUT_S = 3
#: What `announce` may say: the agent joined or left (domain.yml utter_agent_joined / utter_agent_left).
ANNOUNCEMENTS = ("joined", "left")
AGENT_EVENTS = ("typing", "state")


class RasaUnavailable(RuntimeError):
    """The Rasa server did not do what was asked; the message says what failed. `status`: its HTTP
    answer, None when it could not be reached or did not answer in time."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def passing(self) -> bool:
        """Unreachable, too slow or a server error: the same call may work a moment later (a 4xx will not)."""
        return self.status is None or self.status >= 500


class RasaAPI:
    def __init__(self, base_url: str, token: str, session: Optional[requests.Session] = None) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._http = session or requests.Session()

    def _url(self, conversation_id: str, path: str) -> str:
        return f"{self._base}/conversations/{quote(conversation_id, safe='')}/{path}"

    def _post(self, url: str, body: Any, timeout: float = TIMEOUT_S, **params: str) -> Dict[str, Any]:
        try:
            answer = self._http.post(url, json=body, params={"token": self._token, **params}, timeout=timeout)
        except requests.RequestException as error:
            raise RasaUnavailable(f"the bot server could not be reached ({type(error).__name__})") from None
        if answer.status_code >= 400:
            raise RasaUnavailable(f"the bot server answered {answer.status_code}", answer.status_code)
        reply: Dict[str, Any] = answer.json()  # Rasa's HTTP API answers these calls with an object
        return reply

    def send_agent_message(self, conversation_id: str, text: str, agent_name: str) -> None:
        event = {"event": "bot", "text": text, "timestamp": time.time(), "metadata": {"agent": agent_name}}
        self._post(self._url(conversation_id, "tracker/events"), event,
                   output_channel="latest", execute_side_effects="true")

    def announce(self, conversation_id: str, agent_name: str, kind: str) -> None:
        """A system line to the customer: the agent "joined" the chat or "left" it (handed it back).

        A `bot` event with metadata {"agent", "system"}, so the widget shows it as a system line
        and the desk (which has its own record) leaves it out of its transcript.
        """
        if kind not in ANNOUNCEMENTS:
            raise ValueError(f"unknown announcement {kind!r}")
        first = transcript.first_name(agent_name) or agent_name
        text = (render("utter_agent_joined", agent=first) if kind == "joined"
                else render("utter_agent_left", agent=first))
        event = {"event": "bot", "text": text, "timestamp": time.time(),
                 "metadata": {"agent": agent_name, "system": kind}}
        self._post(self._url(conversation_id, "tracker/events"), event,
                   output_channel="latest", execute_side_effects="true")

    def agent_event(self, conversation_id: str, kind: str, agent: Optional[str] = None,
                    typing: Optional[bool] = None) -> None:
        """Poke the website widget's server: the agent is typing (or stopped), or the state changed."""
        if kind not in AGENT_EVENTS:
            raise ValueError(f"unknown agent event {kind!r}")
        body: Dict[str, Any] = {"conversation_id": conversation_id, "kind": kind}
        if agent is not None:
            body["agent"] = agent
        if typing is not None:
            body["typing"] = typing
        self._post(f"{self._base}/webhooks/socketio/agent_event", body, timeout=POKE_TIMEOUT_S)

    def resume(self, conversation_id: str) -> None:
        """Give the conversation back to the bot: no person has it any more (the `handoff_ticket` slot
        is cleared; a conversation paused by an older version is resumed too), and the bot tells the
        customer that the person resolved or closed it (action_handback)."""
        now = time.time()
        self._post(self._url(conversation_id, "tracker/events"),
                   [{"event": "slot", "name": "handoff_ticket", "value": None, "timestamp": now},
                    {"event": "resume", "timestamp": now}])
        self._post(self._url(conversation_id, "execute"), {"name": "action_handback"}, output_channel="latest")

    def tracker(self, conversation_id: str) -> Dict[str, Any]:
        """The conversation's state (Rasa's tracker: events, latest channel, paused, active form)."""
        try:
            answer = self._http.get(self._url(conversation_id, "tracker"), params={"token": self._token},
                                    timeout=TIMEOUT_S)
            answer.raise_for_status()
        except requests.RequestException as error:
            raise RasaUnavailable(f"the conversation could not be loaded ({type(error).__name__})") from None
        state: Dict[str, Any] = answer.json()
        return state

    def trigger_intent(self, conversation_id: str, intent: str, entities: Mapping[str, str]) -> None:
        """Start what the bot does on an external intent (a follow-up), sent on the conversation's latest channel."""
        self._post(self._url(conversation_id, "trigger_intent"), {"name": intent, "entities": dict(entities)},
                   output_channel="latest", include_events="NONE")

    def messages(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The conversation as the people in it saw it (careline.shared.transcript lines)."""
        return transcript.lines(self.tracker(conversation_id).get("events", []))
