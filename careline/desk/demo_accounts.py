"""The two demo desk accounts that `make db` creates (documented in README.md)."""
from __future__ import annotations

from typing import Dict, List

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from careline.db import Agent
from careline.desk.auth import Accounts

DEMO_DESK_ACCOUNTS = (
    ("ana.rivera@harborpine.example", "Ana Rivera", "agent"),
    ("sam.okafor@harborpine.example", "Sam Okafor", "supervisor"),
)


def seed_desk_accounts(engine: Engine, passwords: Dict[str, str]) -> List[str]:
    """Create the demo desk accounts that are missing (password per role); return their emails."""
    accounts = Accounts(engine)
    created = []
    with Session(engine) as session:
        existing = set(session.execute(select(Agent.email)).scalars())
    for email, name, role in DEMO_DESK_ACCOUNTS:
        if email not in existing and passwords.get(role):
            accounts.create(email, name, role, passwords[role])
            created.append(email)
    return created
