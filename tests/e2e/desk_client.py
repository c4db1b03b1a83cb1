"""A signed-in desk session over real HTTP (requests), for the desk's end-to-end tests."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import requests
from requests.adapters import HTTPAdapter

from careline.shared.settings import load_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class SourceAddress(HTTPAdapter):
    """Connect from another loopback address (e.g. 127.0.0.2): the desk sees another client."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


class DeskClient:
    def __init__(self, system, role: Optional[str] = "agent", source: Optional[str] = None) -> None:
        settings = load_settings(environ=system.env)
        self.url = settings.desk_url
        self.http = requests.Session()
        if source:
            self.http.mount("http://", SourceAddress(source))
        self.csrf = ""
        if role:
            email = {"agent": "ana.rivera@harborpine.example", "supervisor": "sam.okafor@harborpine.example"}[role]
            password = {"agent": settings.desk_agent_password, "supervisor": settings.desk_supervisor_password}[role]
            self.login(email, password)

    def login(self, email: str, password: str) -> requests.Response:
        form = self.http.get(f"{self.url}/login", timeout=10)
        answer = self.http.post(f"{self.url}/login", timeout=10, allow_redirects=False,
                                data={"csrf": CSRF.search(form.text).group(1), "email": email, "password": password})
        if answer.status_code == 302 and answer.headers["location"].startswith("/queue"):
            self.csrf = CSRF.search(self.http.get(f"{self.url}/queue", timeout=10).text).group(1)
        return answer

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=30, allow_redirects=False, **kwargs)

    def post(self, path: str, data: Optional[Dict[str, Any]] = None, csrf: bool = True,
             **kwargs: Any) -> requests.Response:
        body = dict(data or {})
        if csrf:
            body["csrf"] = self.csrf
        return self.http.post(f"{self.url}{path}", data=body, timeout=60, allow_redirects=False,
                              headers={"Accept": "application/json", **kwargs.pop("headers", {})}, **kwargs)

    def queue(self) -> List[Dict[str, Any]]:
        return self.get("/api/queue").json()

    def form_key(self, ticket: int) -> str:
        """A money-form key the desk issues for this ticket and this signed-in agent."""
        answer = self.post(f"/tickets/{ticket}/form-key")
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]["form_key"]

    def ticket_of(self, conversation_id: str) -> int:
        return next(item["ticket_id"] for item in self.queue() if item["conversation_id"] == conversation_id)
