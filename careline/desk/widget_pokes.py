"""Telling the website widget's server that a conversation's state changed (contract 3), in the background.

After an agent takes a conversation, answers it or hands it back, the widget's header ("Ana Rivera is
here", "Waiting for the team") follows only when the desk pokes the widget's server, which then reads
the state afresh and sends it to the customer's tabs. Nothing else brings the header up to date, so
unlike a typing poke (the next one replaces it) a state poke that fails is sent again, after 1 s and
then 2 s, while the failure may pass (unreachable, too slow, a 5xx); a refusal (4xx) is not.

The pokes never hold the desk's own threads (pages, sign-in checks): the HTTP calls run on a small
pool of their own and the waits between attempts are asyncio sleeps. A newer poke of a conversation
replaces one still trying (a repeat would read the same state), so an outage of the bot server costs
at most one chain of attempts per conversation.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Optional

from careline.desk.rasa_api import RasaUnavailable

log = logging.getLogger("careline.desk")

ATTEMPTS = 3
BACKOFF_S = 1.0
THREADS = 2

#: (conversation id, agent name) -> None; raises RasaUnavailable (RasaAPI.agent_event with kind "state").
Poke = Callable[[str, Optional[str]], None]


class WidgetPokes:
    """State pokes of the desk's process, started from its event loop (`state_changed`)."""

    def __init__(self, poke: Poke, attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S,
                 threads: int = THREADS) -> None:
        self._poke, self._attempts, self._backoff_s = poke, attempts, backoff_s
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="desk-widget-poke")
        self._trying: Dict[str, asyncio.Task[bool]] = {}

    def state_changed(self, conversation_id: str, agent: Optional[str]) -> asyncio.Task[bool]:
        """Start telling the widget (replacing a poke of this conversation still trying); the task is
        True once the widget's server has it, False when it gave up (logged)."""
        older = self._trying.get(conversation_id)
        if older is not None and not older.done():
            older.cancel()
        task = asyncio.get_running_loop().create_task(self._send(conversation_id, agent))
        self._trying[conversation_id] = task
        task.add_done_callback(functools.partial(self._forget, conversation_id))
        return task

    def close(self) -> None:
        """Stop (the desk's server stops): pokes still trying give up, queued ones are dropped."""
        for task in list(self._trying.values()):
            task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def trying(self) -> int:
        """How many conversations have a poke under way."""
        return sum(1 for task in self._trying.values() if not task.done())

    def _forget(self, conversation_id: str, task: asyncio.Task[bool]) -> None:
        if self._trying.get(conversation_id) is task:
            del self._trying[conversation_id]

    async def _send(self, conversation_id: str, agent: Optional[str]) -> bool:
        loop = asyncio.get_running_loop()
        for attempt in range(1, self._attempts + 1):
            try:
                await loop.run_in_executor(self._pool, self._poke, conversation_id, agent)
                return True
            except RasaUnavailable as error:
                if not error.passing or attempt == self._attempts:
                    log.warning("desk: telling the widget the state of a conversation failed after %d attempt(s) "
                                "(%s); its header follows with the customer's next message", attempt, error)
                    return False
            except Exception as error:  # noqa: BLE001 - a courtesy: logged, never raised
                log.warning("desk: telling the widget the state of a conversation failed (%s)", type(error).__name__)
                return False
            await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        return False
