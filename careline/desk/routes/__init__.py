"""The desk's routes, one blueprint per area (the shared helpers are in careline/desk/web.py).

auth.py       GET/POST /login, POST /logout
queue.py      GET /, /queue, /tickets/<id>; POST /tickets/<id>/take, /reply, /note, /resolve, /close, /typing
money.py      POST /tickets/<id>/form-key, /refund (refund or goodwill), /waiver
analytics.py  GET /analytics, /analytics.csv (supervisors)
api.py        GET /health, /api/queue, /api/queue/stream, /api/tickets/<id>, /api/tickets/<id>/stream,
              /api/analytics (supervisors)
"""
from __future__ import annotations

from typing import Tuple

from sanic import Blueprint

from careline.desk.routes import analytics, api, auth, money, queue

BLUEPRINTS: Tuple[Blueprint, ...] = (auth.bp, queue.bp, money.bp, analytics.bp, api.bp)

__all__ = ["BLUEPRINTS"]
