"""CarelineLockStore against a real Redis: two servers never handle one conversation at once, messages go in
the order they drew tickets, and a Redis outage refuses the message instead of handling it unlocked."""
from __future__ import annotations

import asyncio
import time
from typing import Iterator, List, Tuple

import pytest

from careline.shared.unavailable import Unavailable
from components.runtime.lock_store import CarelineLockStore, LockStoreUnavailable
from tests.redis_server import RedisServer, running_redis


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


async def _handle(store: CarelineLockStore, conversation: str, number: int, log: List[Tuple[str, int]]) -> None:
    async with store.lock(conversation):
        log.append(("start", number))
        await asyncio.sleep(0.005)
        log.append(("end", number))


def test_two_servers_take_turns_in_ticket_order_and_never_overlap(redis: RedisServer):
    first, second = CarelineLockStore(url=redis.url), CarelineLockStore(url=redis.url)
    log: List[Tuple[str, int]] = []

    async def run() -> None:
        tasks = []
        for number in range(20):  # messages arriving 2 ms apart, alternately at the two servers
            tasks.append(asyncio.create_task(_handle(first if number % 2 else second, "c-order", number, log)))
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)

    asyncio.run(run())
    assert [entry for entry in log if entry[0] == "start"] == [("start", n) for n in range(20)], "arrival order"
    for index in range(0, len(log), 2):
        assert log[index][0] == "start" and log[index + 1] == ("end", log[index][1]), "one at a time"
    assert first.get_lock("c-order") is None, "the lock is gone once nobody waits"


def test_tickets_drawn_at_the_same_moment_by_two_servers_are_all_different(redis: RedisServer):
    stores = [CarelineLockStore(url=redis.url) for _ in range(4)]

    async def draw(store: CarelineLockStore) -> int:
        return await asyncio.to_thread(store.issue_ticket, "c-race")

    async def run() -> List[int]:
        return list(await asyncio.gather(*(draw(stores[n % 4]) for n in range(40))))

    tickets = asyncio.run(run())
    assert sorted(tickets) == list(range(40)), "Rasa's RedisLockStore can hand one number out twice here"


def test_waiting_is_polled_every_few_milliseconds_not_every_second(redis: RedisServer):
    store = CarelineLockStore(url=redis.url)

    async def run() -> float:
        log: List[Tuple[str, int]] = []
        started = time.monotonic()
        await asyncio.gather(*(_handle(store, "c-fast", n, log) for n in range(5)))
        return time.monotonic() - started

    assert asyncio.run(run()) < 0.8


def test_redis_down_refuses_the_message_quickly_and_clearly(redis: RedisServer):
    store = CarelineLockStore(url=redis.url)
    redis.stop()
    try:
        started = time.monotonic()
        with pytest.raises(LockStoreUnavailable) as refused:
            asyncio.run(_handle(store, "c-down", 1, []))
        assert time.monotonic() - started < 3
        assert isinstance(refused.value, Unavailable) and refused.value.part == "the conversation locks"
        assert "not answering" in str(refused.value) and redis.url.split("@")[-1] in str(refused.value)
    finally:
        redis.restart()
    log: List[Tuple[str, int]] = []
    asyncio.run(_handle(store, "c-down", 2, log))
    assert log == [("start", 2), ("end", 2)], "the same store works again once Redis is back"


def test_without_redis_the_locks_live_in_the_process():
    store = CarelineLockStore(url="")
    log: List[Tuple[str, int]] = []

    async def run() -> None:
        await asyncio.gather(*(_handle(store, "c-mem", n, log) for n in range(6)))

    asyncio.run(run())
    assert [n for kind, n in log if kind == "start"] == list(range(6)) and store.where == "this process's memory"
