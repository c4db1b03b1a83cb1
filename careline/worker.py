"""The background worker: python -m careline.worker (started by the supervisor with the system).

A composition root (like `careline/demo.py`): it wires the contexts' periodic jobs together and
runs each of them about once a second, forever. Every job works over the store only (outboxes,
schedules), so a crash of this process loses nothing: what was due is still due when it restarts.
A job that raises is logged and tried again on the next round; it never stops the others.

Jobs (each a name and a callable returning how many things it did):
- `helpdesk`: deliver queued handoff tickets to CARELINE_HELPDESK_URL (only when it is set).
- `label-emails`: queue the label email of every approved return that has none (careline.fulfilment).
- `unseen-replies`: queue the email of agent replies a customer has not seen after CARELINE_UNSEEN_REPLY_S
  (website chat; other channels when the customer left an address; careline.notify.unseen_replies).
- `email`: send queued emails over SMTP (CARELINE_SMTP_*; `make run` points them at its local mail
  catcher when no server is configured; without one they wait in the store).
- `reshipments`: queue every approved reshipment for the warehouse (also while none is configured).
- `warehouse`: deliver queued reshipments to CARELINE_WAREHOUSE_URL (only when it is set).
- `follow-up-schedule`: schedule follow-ups for new cases and orders that became late, close unanswered ones.
- `follow-up-delivery`: ask due follow-ups in their conversations through Rasa's HTTP API (careline.followup).
Further jobs are added in `jobs()` below.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, List

from sqlalchemy.engine import Engine

from careline.db import make_engine
from careline.desk.rasa_api import RasaAPI
from careline.followup import FollowUpDelivery, FollowUpRules, FollowUpSchedule
from careline.fulfilment import LabelLinks, Reshipments, ReturnLabels, WarehouseOutbox
from careline.handoff import reply_address
from careline.handoff.outbox import HelpdeskOutbox
from careline.notify import EmailOutbox, SmtpConfig, SmtpMailer, UnseenReplies
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
    result.extend(fulfilment_jobs(settings, engine))
    result.extend(follow_up_jobs(settings, engine))
    return result


def fulfilment_jobs(settings: Settings, engine: Engine) -> List[Job]:
    """Keeping the promises: label emails, unseen replies by email, their delivery, reshipments to the warehouse."""
    result: List[Job] = []
    if settings.signing_key:  # the label links are signed (`make up` refuses to start without the key)
        labels = ReturnLabels(engine, settings.shop, LabelLinks(settings.signing_key, settings.customer_url,
                                                                settings.label_link_days))
        result.append(Job("label-emails", labels.queue_emails))
    unseen = UnseenReplies(engine, reply_address, grace=timedelta(seconds=settings.unseen_reply_s))
    result.append(Job("unseen-replies", unseen.queue_due))
    if settings.smtp_host:
        emails = EmailOutbox(engine, SmtpMailer(SmtpConfig.from_settings(settings)))
        result.append(Job("email", lambda: sum(emails.deliver_due())))
    result.append(Job("reshipments", Reshipments(engine).queue_due))
    if settings.warehouse_url:
        warehouse = WarehouseOutbox(engine, settings.warehouse_url, settings.shop)
        result.append(Job("warehouse", lambda: sum(warehouse.deliver_due())))
    return result


def follow_up_jobs(settings: Settings, engine: Engine) -> List[Job]:
    """Following up: the schedule derived from the store, and asking through the bot (policy.yml `follow_up:`)."""
    rules = FollowUpRules.from_settings(settings)
    schedule = FollowUpSchedule(engine, rules)
    delivery = FollowUpDelivery(engine, RasaAPI(settings.rasa_url, settings.auth_token), rules)
    return [Job("follow-up-schedule", schedule.sweep), Job("follow-up-delivery", lambda: delivery.deliver_due().done)]


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
