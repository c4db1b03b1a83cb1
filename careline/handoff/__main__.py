"""The outbox worker: python -m careline.handoff (started by the supervisor when CARELINE_HELPDESK_URL is set)."""
from __future__ import annotations

import logging
import sys
import time

from careline.db import make_engine
from careline.handoff.outbox import HelpdeskOutbox
from careline.shared import load_settings

logger = logging.getLogger("careline.handoff.outbox")


def main() -> int:  # pragma: no cover - run as a process by the supervisor and the end-to-end tests
    logging.basicConfig(level=logging.INFO, format="%(asctime)s outbox %(message)s")
    settings = load_settings()
    if not settings.helpdesk_url:
        print("outbox: CARELINE_HELPDESK_URL is not set; tickets stay in the store", file=sys.stderr)
        return 2
    outbox = HelpdeskOutbox(make_engine(settings.store_db_url), settings.helpdesk_url)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    logger.info("delivering tickets to %s", settings.helpdesk_url)
    while True:
        delivered, failed = outbox.deliver_due()
        if delivered or failed:
            logger.info("delivered %d, failed %d, pending %d", delivered, failed, outbox.pending())
        settings.outbox_heartbeat.touch()
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
