"""The agent desk's accounts, sessions, one-time form keys and what customers were told."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime


class Agent(Base):
    """A person who works in the agent desk."""

    __tablename__ = "agents"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(254), nullable=False, unique=True)
    name = sa.Column(sa.String(120), nullable=False)
    role = sa.Column(sa.String(20), nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(UTCDateTime, nullable=False)

    __table_args__ = (sa.CheckConstraint("role IN ('agent', 'supervisor')", name="ck_agent_role"),)


class DeskSession(Base):
    """A signed-in browser: the cookie holds a secret whose hash is stored here."""

    __tablename__ = "desk_sessions"

    id = sa.Column(sa.Integer, primary_key=True)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), nullable=False, index=True)
    csrf_token = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    expires_at = sa.Column(UTCDateTime, nullable=False)


class DeskFormKey(Base):
    """An idempotency key the desk issued for one money form of one ticket and agent."""

    __tablename__ = "desk_form_keys"

    id = sa.Column(sa.Integer, primary_key=True)
    key = sa.Column(sa.String(64), nullable=False, unique=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    used_at = sa.Column(UTCDateTime)


class DeskTold(Base):
    """The customer of a ticket was told (or is being told) what was done under `reference` (a desk
    refund or waiver): one row per ticket and reference, inserted in its own transaction before the
    message goes, so only the request that inserted it sends; removed when the message could not be
    sent, so the agent can try again (careline.desk.service.DeskService.tell_outcome)."""

    __tablename__ = "desk_told"

    id = sa.Column(sa.Integer, primary_key=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False)
    reference = sa.Column(sa.String(40), nullable=False)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)

    __table_args__ = (sa.UniqueConstraint("ticket_id", "reference", name="uq_desk_told_ticket_reference"),)
