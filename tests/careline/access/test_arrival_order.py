"""channels.guard.ArrivalOrder: a conversation's messages are handled in the order they arrived, even when a
later one's awaits (a rate-limit check in a thread, the store) finish first; other conversations never wait."""
import asyncio
import random
from typing import List

from channels.guard import ArrivalOrder


def test_a_later_message_never_overtakes_an_earlier_one_of_the_same_conversation():
    order = ArrivalOrder()
    handled: List[int] = []

    async def message(number: int) -> None:
        async with order.turn("customer-1"):
            await asyncio.sleep(random.uniform(0, 0.01))   # e.g. a rate-limit check answered by a thread
            handled.append(number)

    async def run() -> None:
        await asyncio.gather(*(message(number) for number in range(30)))

    asyncio.run(run())
    assert handled == list(range(30)) and len(order) == 0, "handled in arrival order; nothing kept afterwards"


def test_other_conversations_do_not_wait_for_each_other():
    order = ArrivalOrder()
    handled: List[str] = []

    async def message(key: str, delay: float) -> None:
        async with order.turn(key):
            await asyncio.sleep(delay)
            handled.append(key)

    async def run() -> None:
        await asyncio.gather(message("slow", 0.05), message("fast", 0.0))

    asyncio.run(run())
    assert handled == ["fast", "slow"]
