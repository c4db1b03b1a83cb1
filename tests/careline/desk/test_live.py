"""What bounds the desk's live views (careline.desk.live), in the event loop they run in: one watcher per
ticket however many people watch it, reads shared by every stream, a cap on streams per session and agent.
(The streams over real HTTP: test_desk_streams_web.py.)"""
from __future__ import annotations

import asyncio
from typing import Dict, List, Optional, Tuple

from careline.desk import live


class Ticket:
    """A ticket's sources that count what they are asked; `news()` is a new message in its conversation."""

    def __init__(self) -> None:
        self.calls: Dict[str, int] = {"record": 0, "mark": 0, "load": 0}
        self.newest = 1
        self.gone = False
        self.broken = False

    def sources(self) -> live.TicketSources:
        async def record() -> Optional[Tuple[str, int]]:
            self.calls["record"] += 1
            return None if self.gone else ("open", 0)

        async def mark() -> Optional[int]:
            self.calls["mark"] += 1
            if self.broken:
                raise RuntimeError("the store went away")
            return self.newest

        async def load() -> Optional[Tuple[str, bool]]:
            self.calls["load"] += 1
            return f"event: ticket\ndata: {self.newest}\n\n", False
        return live.TicketSources(record, mark, load)


async def _viewer(watchers: live.TicketWatchers, ticket: Ticket, got: List[str], seconds: float) -> None:
    async with watchers.watching(7, ticket.sources) as watch:
        seen = 0
        deadline = asyncio.get_running_loop().time() + seconds
        while not watch.ended and asyncio.get_running_loop().time() < deadline:
            if watch.version != seen:
                seen = watch.version
                got.append(watch.event)
            await watch.wait(seen, deadline - asyncio.get_running_loop().time())


def test_fifty_viewers_of_a_ticket_cost_what_one_does_and_all_get_each_change():
    async def scenario() -> Tuple[Ticket, List[List[str]], live.TicketWatchers]:
        ticket, watchers = Ticket(), live.TicketWatchers()
        got: List[List[str]] = [[] for _ in range(50)]
        viewers = [asyncio.ensure_future(_viewer(watchers, ticket, mine, 1.6)) for mine in got]
        await asyncio.sleep(0.6)
        assert watchers.watched() == {7: 50}
        ticket.newest = 2
        await asyncio.gather(*viewers)
        return ticket, got, watchers

    ticket, got, watchers = asyncio.run(scenario())
    assert all(mine == [f"event: ticket\ndata: {n}\n\n" for n in (1, 2)] for mine in got), got[0]
    assert ticket.calls["load"] == 2, "one load per change, for everyone"
    assert ticket.calls["mark"] <= 1.6 / live.TICKET_INTERVAL_S + 2, ticket.calls  # ~4 a second, not 200
    assert ticket.calls["record"] <= ticket.calls["mark"] / live.RECORD_EVERY + 1
    assert watchers.watched() == {}, "the last viewer to leave stops the watch"


def test_a_late_viewer_gets_the_current_snapshot_at_once_and_leaving_stops_the_polling():
    async def scenario() -> Tuple[Ticket, List[str], int]:
        ticket, watchers = Ticket(), live.TicketWatchers()
        first: List[str] = []
        early = asyncio.ensure_future(_viewer(watchers, ticket, first, 0.8))
        await asyncio.sleep(0.4)
        late: List[str] = []
        started = asyncio.get_running_loop().time()
        await _viewer(watchers, ticket, late, 0.05)
        assert asyncio.get_running_loop().time() - started < 0.2
        assert late == first == ["event: ticket\ndata: 1\n\n"]
        await early
        calls = ticket.calls["mark"]
        await asyncio.sleep(0.6)
        return ticket, late, calls

    ticket, late, calls = asyncio.run(scenario())
    assert ticket.calls["mark"] == calls, "nobody watches: nothing is read"


def test_a_ticket_that_is_gone_or_a_failing_read_ends_the_watch_and_the_next_viewer_starts_afresh():
    async def scenario() -> None:
        ticket, watchers = Ticket(), live.TicketWatchers()
        ticket.broken = True
        got: List[str] = []
        await asyncio.wait_for(_viewer(watchers, ticket, got, 5), 2)  # ends at once, not after 5 s
        assert got == [] and watchers.watched() == {}
        ticket.broken = False
        await _viewer(watchers, ticket, got, 0.3)
        assert got == ["event: ticket\ndata: 1\n\n"]
        ticket.gone = True
        await asyncio.wait_for(_viewer(watchers, ticket, [], 5), 2)
    asyncio.run(scenario())


def test_shared_reads_load_once_for_concurrent_callers_keep_it_briefly_and_never_keep_a_failure():
    loads: List[int] = []

    async def load() -> int:
        loads.append(1)
        await asyncio.sleep(0.05)
        if len(loads) == 3:
            raise RuntimeError("locked")
        return len(loads)

    async def scenario() -> None:
        reads = live.SharedReads()
        assert await asyncio.gather(*[reads.get("k", 0.2, load) for _ in range(20)]) == [1] * 20
        assert await reads.get("k", 0.2, load) == 1 and len(loads) == 1, "kept for the ttl"
        assert await reads.get("other", 0.2, load) == 2, "another key is another read"
        await asyncio.sleep(0.25)
        failed = await asyncio.gather(reads.get("k", 0.2, load), return_exceptions=True)
        assert isinstance(failed[0], RuntimeError)
        assert await reads.get("k", 0.2, load) == 4, "a failure is not kept"
    asyncio.run(scenario())


def test_stream_slots_cap_a_session_and_an_agent_and_come_back():
    slots = live.StreamSlots(per_session=2, per_agent=3)
    assert slots.take("s1", 1) and slots.take("s1", 1)
    assert not slots.take("s1", 1), "the session's cap"
    assert slots.take("s2", 1) and not slots.take("s2", 1), "the agent's cap across sessions"
    assert slots.take("s3", 2), "another agent is not counted with this one"
    slots.give_back("s1", 1)
    assert slots.open("s1") == 1 and slots.take("s2", 1)
    for session in ("s1", "s2", "s2"):
        slots.give_back(session, 1)
    assert slots.open("s1") == 0 and slots.open("s2") == 0 and slots.take("s1", 1)
