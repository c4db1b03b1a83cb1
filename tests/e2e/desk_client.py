"""A signed-in desk session over real HTTP (requests), for the desk's end-to-end tests."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import requests

from careline.settings import load_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class DeskClient:
    def __init__(self, system, role: str = "agent") -> None:
        settings = load_settings(environ=system.env)
        self.url = settings.desk_url
        self.http = requests.Session()
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

    def ticket_of(self, conversation_id: str) -> int:
        return next(item["ticket_id"] for item in self.queue() if item["conversation_id"] == conversation_id)
