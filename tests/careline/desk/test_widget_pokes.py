"""The desk's state pokes to the widget's server (careline.desk.widget_pokes), in the event loop they run in:
sent again while a failure may pass, never again after a refusal, one chain of attempts per conversation,
on threads of their own. (Over real HTTP against a fake bot server: test_workspace_web.py.)"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import List, Optional, Tuple

from careline.desk.rasa_api import RasaUnavailable
from careline.desk.widget_pokes import WidgetPokes


class Bot:
    """The widget's server as the poke sees it: fails `failures` times with `status`, then takes it."""

    def __init__(self, failures: int = 0, status: Optional[int] = 503, seconds: float = 0.0) -> None:
        self.failures, self.status, self.seconds = failures, status, seconds
        self.calls: List[Tuple[str, Optional[str], str]] = []
        self.answered = 0

    def poke(self, conversation: str, agent: Optional[str]) -> None:
        self.calls.append((conversation, agent, threading.current_thread().name))
        time.sleep(self.seconds)
        try:
            if self.failures:
                self.failures -= 1
                raise RasaUnavailable("the bot server answered", self.status)
        finally:
            self.answered += 1


def test_a_failure_that_may_pass_is_tried_again_a_refusal_is_not():
    async def scenario() -> Tuple[bool, bool, bool]:
        busy, refusing, gone = Bot(failures=2), Bot(failures=5, status=400), Bot(failures=5, status=None)
        results = await asyncio.gather(*(WidgetPokes(bot.poke, backoff_s=0.05).state_changed("web-1", "Ana Rivera")
                                         for bot in (busy, refusing, gone)))
        assert len(busy.calls) == 3 and len(refusing.calls) == 1 and len(gone.calls) == 3
        return results[0], results[1], results[2]
    assert asyncio.run(scenario()) == (True, False, False), "taken on the third try; refused; unreachable thrice"


def test_a_newer_poke_replaces_one_still_trying_and_the_pokes_keep_to_their_own_threads():
    async def scenario() -> Tuple[Bot, List[bool]]:
        bot = Bot(failures=100, status=None, seconds=0.05)  # the bot server is down
        pokes = WidgetPokes(bot.poke, backoff_s=0.5)
        first = pokes.state_changed("web-1", "Ana Rivera")
        while not bot.answered:  # the first attempt failed: it waits to try again
            await asyncio.sleep(0.01)
        second = pokes.state_changed("web-1", "Ana Rivera")
        others = [pokes.state_changed(f"web-{n}", "Ana Rivera") for n in range(2, 12)]
        assert pokes.trying() == 11, "one chain per conversation"
        done = await asyncio.gather(second, *others)
        assert first.cancelled()
        assert pokes.trying() == 0
        return bot, done
    bot, done = asyncio.run(scenario())
    assert not any(done)
    assert len([call for call in bot.calls if call[0] == "web-1"]) == 1 + 3, "the replaced chain stopped"
    assert len(bot.calls) == 1 + 3 + 10 * 3
    assert {name.split("_")[0] for _, _, name in bot.calls} == {"desk-widget-poke"}, "not the desk's own threads"
    assert len({name for _, _, name in bot.calls}) <= 2


def test_closing_gives_up_what_is_still_trying_and_drops_what_waits_for_a_thread():
    async def scenario() -> Tuple[Bot, list]:
        bot = Bot(failures=100, status=None, seconds=0.3)  # the bot server is down and slow
        pokes = WidgetPokes(bot.poke, backoff_s=0.5)
        tasks = [pokes.state_changed(f"web-{n}", "Ana Rivera") for n in range(6)]
        await asyncio.sleep(0.1)  # two attempts run, four wait for a thread
        pokes.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.5)
        assert pokes.trying() == 0
        return bot, results
    started = time.monotonic()
    bot, results = asyncio.run(scenario())
    assert all(isinstance(result, asyncio.CancelledError) for result in results)
    assert len(bot.calls) == 2, "the waiting attempts never ran"
    assert time.monotonic() - started < 3
