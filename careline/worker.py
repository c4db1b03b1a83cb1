"""The background worker: python -m careline.worker (started by the supervisor with the system).

A composition root (like `careline/demo.py`): it wires the contexts' periodic jobs together and
runs each of them about once a second, forever. Every job works over the store only (outboxes,
schedules), so a crash of this process loses nothing: what was due is still due when it restarts.
A job that raises is logged and tried again on the next round; it never stops the others.

Jobs (each a name and a callable returning how many things it did):
- `helpdesk`: deliver queued handoff tickets to CARELINE_HELPDESK_URL (only when it is set).
Further jobs are added in `jobs()` below.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Callable, List

from careline.db import make_engine
from careline.handoff.outbox import HelpdeskOutbox
from careline.shared import Settings, load_settings

logger = logging.getLogger("careline.worker")

ROUND_S = 1.0


@dataclass(frozen=True)
class Job:
    """One periodic piece of work: `run()` does what is due and says how much it did."""

    name: str
    run: Callable[[], int]


def jobs(settings: Settings) -> List[Job]:
    """The jobs this configuration needs."""
    engine = make_engine(settings.store_db_url)
    result: List[Job] = []
    if settings.helpdesk_url:
        outbox = HelpdeskOutbox(engine, settings.helpdesk_url)
        result.append(Job("helpdesk", lambda: sum(outbox.deliver_due())))
    return result


def run_round(work: List[Job]) -> int:
    """Run every job once; a failing job is logged and does not stop the others."""
    done = 0
    for job in work:
        try:
            count = job.run()
        except Exception:  # noqa: BLE001 - one broken job must not stop the worker
            logger.exception("job %s failed; it is tried again next round", job.name)
            continue
        if count:
            logger.info("%s: %d done", job.name, count)
        done += count
    return done


def main() -> int:  # pragma: no cover - run as a process by the supervisor and the end-to-end tests
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    settings = load_settings()
    work = jobs(settings)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    logger.info("running %s", ", ".join(job.name for job in work) or "no jobs")
    while True:
        run_round(work)
        settings.worker_heartbeat.touch()
        time.sleep(ROUND_S)


if __name__ == "__main__":
    sys.exit(main())
