"""Prepare the shop database for a demo: migrate, seed the shop, add the demo desk accounts.

Usage: python -m careline.demo [--reset]   (`make db`, `make reseed`)
"""
from __future__ import annotations

import sys
from typing import List

from careline.db import ORDER_STATUSES, make_engine
from careline.db.migrate import UnversionedDatabase
from careline.db.seed import CUSTOMERS, seed
from careline.desk.demo_accounts import seed_desk_accounts
from careline.shared import load_settings, secure_var


def main(argv: List[str]) -> int:
    settings = load_settings()
    secure_var(settings.var_dir, (settings.store_db_url, settings.tracker_db_url))
    engine = make_engine(settings.store_db_url)
    try:
        added = seed(engine, reset="--reset" in argv)
    except UnversionedDatabase as error:
        print(f"seed: {error}", file=sys.stderr)
        return 1
    accounts = seed_desk_accounts(engine, {"agent": settings.desk_agent_password,
                                           "supervisor": settings.desk_supervisor_password})
    if accounts:
        print(f"seed: created desk accounts {', '.join(accounts)} (passwords: CARELINE_DESK_*_PASSWORD in .env)")
    if added:
        print(f"seed: created {CUSTOMERS} customers and {added} orders ({', '.join(ORDER_STATUSES)})")
    else:
        print("seed: database already has data, left as it is (use --reset to start over)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
