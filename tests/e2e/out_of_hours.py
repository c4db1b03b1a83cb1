"""A system whose support team is out of hours for the whole test session.

Its shop file is shop.yml with the team working only on the day after tomorrow (shop time), so
"offline" is what the server really computes from its own clock and hours, whatever time the tests
run, and nothing has to pretend. Modules that set `SYSTEM_ENV = OUT_OF_HOURS_ENV` share one system,
which also emails agent replies a website customer has not seen after 3 s (instead of 2 minutes).
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict
from zoneinfo import ZoneInfo

import yaml

from careline.shared.settings import PROJECT_ROOT

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _closed_shop_file() -> str:
    shop = yaml.safe_load((PROJECT_ROOT / "shop.yml").read_text(encoding="utf-8"))
    today = datetime.now(ZoneInfo(shop["timezone"])).date()
    working_day = DAYS[(today + timedelta(days=2)).weekday()]
    shop["support"]["hours"] = {working_day: "08:00-20:00"}
    folder = Path(tempfile.mkdtemp(prefix="careline-out-of-hours-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "shop.yml"
    path.write_text(yaml.safe_dump(shop, sort_keys=False), encoding="utf-8")
    return str(path)


OUT_OF_HOURS_ENV: Dict[str, str] = {"CARELINE_UNSEEN_REPLY_S": "3", "CARELINE_SHOP_FILE": _closed_shop_file()}
