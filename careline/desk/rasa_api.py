"""What the desk asks of the Rasa server, through its token-protected HTTP API.

An agent's reply is a `bot` event appended with `execute_side_effects`, so Rasa sends it through
the conversation's latest channel (the website socket, Messenger) and keeps it in the tracker.
The worker asks through it too: a follow-up is an external intent triggered on the latest channel.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import quote

import requests

from careline.shared import said_by_customer

TIMEOUT_S = 15


class RasaUnavailable(RuntimeError):
    """The Rasa server did not do what was asked; the message says what failed."""


class RasaAPI:
    def __init__(self, base_url: str, token: str, session: Optional[requests.Session] = None) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._http = session or requests.Session()

    def _url(self, conversation_id: str, path: str) -> str:
        return f"{self._base}/conversations/{quote(conversation_id, safe='')}/{path}"

    def _post(self, url: str, body: Any, **params: str) -> Dict[str, Any]:
        try:
            answer = self._http.post(url, json=body, params={"token": self._token, **params}, timeout=TIMEOUT_S)
        except requests.RequestException as error:
            raise RasaUnavailable(f"the bot server could not be reached ({type(error).__name__})") from None
        if answer.status_code >= 400:
            raise RasaUnavailable(f"the bot server answered {answer.status_code}")
        reply: Dict[str, Any] = answer.json()  # Rasa's HTTP API answers these calls with an object
        return reply

    def send_agent_message(self, conversation_id: str, text: str, agent_name: str) -> None:
        event = {"event": "bot", "text": text, "timestamp": time.time(), "metadata": {"agent": agent_name}}
        self._post(self._url(conversation_id, "tracker/events"), event,
                   output_channel="latest", execute_side_effects="true")

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
        """The conversation as it is now: customer, bot and agent messages."""
        lines = []
        for event in self.tracker(conversation_id).get("events", []):
            if event.get("event") == "user" and said_by_customer(event):
                lines.append({"role": "customer", "text": event.get("text") or "", "at": event.get("timestamp")})
            elif event.get("event") == "bot" and event.get("text"):
                agent = (event.get("metadata") or {}).get("agent")
                lines.append({"role": "agent" if agent else "bot", "agent": agent, "text": event["text"],
                              "at": event.get("timestamp")})
        return lines
