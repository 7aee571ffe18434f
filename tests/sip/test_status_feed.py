"""The status feed delivers in order, survives a raising sink and bounds a hanging one."""

from __future__ import annotations

import asyncio

from telesip.domain import RegistrationReport, RegState
from telesip.workers import ManagerStats
from telesip.workers.status import StatusFeed


async def test_order_errors_and_a_hanging_sink() -> None:
    got: list[int] = []
    hang = asyncio.Event()

    async def sink(st: RegistrationReport) -> None:
        if st.account_id == 2:
            raise RuntimeError("db down")
        if st.account_id == 3:
            await hang.wait()  # never set: the deadline must cut it
        got.append(st.account_id)

    stats = ManagerStats()
    feed = StatusFeed(sink, stats, deadline=0.2)
    task = asyncio.create_task(feed.run())
    try:
        for i in (1, 2, 3, 4):
            feed.put(RegistrationReport(i, RegState.REGISTERED))
        async with asyncio.timeout(2):
            await feed.join()
        # 1 delivered; 2 raised; 3 hung and 4 was in the same batch: both lost, counted
        assert got == [1] and stats.sink_errors == 3
        feed.put(RegistrationReport(5, RegState.REGISTERED))
        async with asyncio.timeout(2):
            await feed.join()
        assert got == [1, 5]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
