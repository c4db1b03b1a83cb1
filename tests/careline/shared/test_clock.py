"""One clock: every stored time is UTC and reads back timezone-aware (issue 13, item 15)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from careline.db.engine import UTCDateTime
from careline.shared.clock import as_utc, utcnow
from careline.shared.settings import PROJECT_ROOT

LOCAL_CLOCKS = re.compile(r"datetime\.now\(\s*\)|datetime\.utcnow|date\.today\(|datetime\.now\(timezone")


def test_no_code_reads_a_local_or_naive_clock():
    offenders = []
    for folder in ("careline", "actions", "channels", "components", "ops"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path.name == "clock.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if LOCAL_CLOCKS.search(line):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_times_are_stored_as_utc_and_read_back_aware(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'clock.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime))
    table.metadata.create_all(engine)
    new_york = timezone(timedelta(hours=-5))
    written = datetime(2026, 12, 2, 7, 30, tzinfo=new_york)
    with engine.begin() as db:
        db.execute(table.insert().values(id=1, at=written))
        db.execute(table.insert().values(id=2, at=datetime(2026, 12, 2, 12, 30)))  # naive: taken as UTC
        raw = db.exec_driver_sql("SELECT at FROM t WHERE id = 1").scalar_one()
        read = dict(db.execute(sa.select(table.c.id, table.c.at)).all())
    assert raw.startswith("2026-12-02 12:30:00")
    assert read[1] == written and read[1].tzinfo == timezone.utc
    assert read[2] == datetime(2026, 12, 2, 12, 30, tzinfo=timezone.utc)


def test_utcnow_is_aware_and_as_utc_converts():
    assert utcnow().tzinfo == timezone.utc
    assert as_utc(datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))).hour == 22
