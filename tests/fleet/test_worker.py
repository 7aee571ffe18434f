"""One worker in-process against a real Kamailio: the account core's changes reach the SIP
registrations within a second, and the registration state reaches the account's card."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from telesip.domain import RegistrationReport
from telesip.domain.settings import Secret
from telesip.services import accounts, fleet
from telesip.services.dependencies import Dependencies
from telesip.store.db import create_engine
from telesip.workers.registrar import RegistrationManager
from telesip.workers.service import Timing, Worker

from ..core.helpers import ALICE
from .conftest import Kamailio, contact_port, sip_for


async def eventually(cond: Callable[[], object], within: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


async def eventually_async(
    cond: Callable[[], object], within: float = 10.0, what: str = ""
) -> None:
    deadline = time.monotonic() + within
    while not await cond():  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


class Forward:
    """A status sink made before the worker it forwards to."""

    target: Callable[[RegistrationReport], None] | None = None

    def __call__(self, status: RegistrationReport) -> None:
        if self.target is not None:
            self.target(status)


@contextlib.asynccontextmanager
async def running(services: Dependencies, name: str) -> AsyncIterator[Worker]:
    """A worker in this process (its own SIP port) until the block ends."""
    sink = Forward()
    manager = RegistrationManager(
        status_sink=sink, bind_host="127.0.0.1", udp_port=0, keepalive_interval=0
    )
    w = Worker(
        services,
        manager,
        name=name,
        addresses=["udp:127.0.0.1:0"],
        timing=Timing(ttl=4, poll=0.2, claim=0.5),
    )
    sink.target = w.on_status
    await manager.start()
    services.bus.subscribe(None, w.on_event)
    task = asyncio.create_task(w.run())
    try:
        yield w
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await w.stop()


@pytest.fixture
async def worker(services: Dependencies) -> AsyncIterator[Worker]:
    async with running(services, "w-test") as w:
        yield w


async def _state(deps: Dependencies, account_id: int) -> str:
    return (await accounts.get_card(deps, None, account_id)).summary.reg_state


async def test_account_changes_reach_kamailio_within_a_second(
    services: Dependencies, kamailio: Kamailio, worker: Worker
) -> None:
    deps = services
    acc = await accounts.create_account(deps, ALICE, sip_for(kamailio, "wk1"))
    await eventually(lambda: kamailio.contacts("wk1"), what="registered in Kamailio")
    await eventually_async(lambda: _is(deps, acc, "registered"), what="state stored")
    await accounts.set_enabled(deps, ALICE, acc, False)
    t0 = time.monotonic()
    await eventually(lambda: not kamailio.contacts("wk1"), within=3, what="unregistered")
    assert time.monotonic() - t0 < 1.5
    assert await _state(deps, acc) == "disabled"
    await accounts.set_enabled(deps, ALICE, acc, True)
    await eventually(lambda: kamailio.contacts("wk1"), within=5, what="registered again")
    # a wrong password: auth failed, shown on the card with its code
    await accounts.update_settings(deps, ALICE, acc, password=Secret("wrong"))
    await eventually_async(lambda: _is(deps, acc, "auth_failed"), what="auth failed stored")
    card = await accounts.get_card(deps, None, acc)
    assert card.summary.reg_code in (401, 403)
    await accounts.update_settings(deps, ALICE, acc, password=Secret("pw-wk1"))
    await eventually_async(lambda: _is(deps, acc, "registered"), what="re-registered")
    assert kamailio.contacts("wk1")
    await accounts.delete_account(deps, ALICE, acc)
    await eventually(lambda: not kamailio.contacts("wk1"), within=3, what="deleted -> gone")
    views = await fleet.list_workers(deps, ttl=4)
    assert [v.name for v in views if v.alive] == ["w-test"]


async def _is(deps: Dependencies, account_id: int, state: str) -> bool:
    return await _state(deps, account_id) == state


async def test_a_worker_stops_cleanly_when_the_database_is_gone(
    services: Dependencies, kamailio: Kamailio, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    """Its registrations still end and the stop returns: the leases expire by themselves."""
    await accounts.create_account(services, ALICE, sip_for(kamailio, "wk-gone"))
    await eventually(lambda: kamailio.contacts("wk-gone"), what="registered in Kamailio")
    gone = create_engine("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens
    worker.deps = replace(services, engine=gone)
    try:
        await worker.stop()
    finally:
        await gone.dispose()
        worker.deps = services
    assert not kamailio.contacts("wk-gone")
    assert "could not hand its leases back" in caplog.text


async def test_repinning_moves_the_line_without_a_gap_and_unpinning_to_nobody_drops_it(
    services: Dependencies, kamailio: Kamailio
) -> None:
    """Issue 18 item 7 for workers on the database: pinned elsewhere, the line moves to the
    new worker with no moment unregistered (the old one stops once the new one registered);
    pinned to a worker that does not run, it is un-REGISTERed within a couple of seconds and
    shows as unregistered."""
    deps = services
    line = await accounts.create_account(deps, ALICE, sip_for(kamailio, "pin1", worker="wa"))
    async with running(deps, "wa") as wa, running(deps, "wb") as wb:
        ports = {w.name: w.manager.udp_local[1] for w in (wa, wb)}  # type: ignore[index]
        await eventually(lambda: kamailio.contacts("pin1"), what="registered by wa")
        assert [contact_port(c) for c in kamailio.contacts("pin1")] == [ports["wa"]]
        await accounts.update_settings(deps, ALICE, line, worker="wb")
        began, seen = time.monotonic(), []
        while [contact_port(c) for c in kamailio.contacts("pin1")] != [ports["wb"]]:
            seen.append(len(kamailio.contacts("pin1")))
            assert time.monotonic() - began < 5, "not moved to wb"
            await asyncio.sleep(0.05)
        assert 0 not in seen, "the line was unregistered on the way"
        moved = time.monotonic() - began
        await accounts.update_settings(deps, ALICE, line, worker="nowhere")
        began = time.monotonic()
        await eventually(lambda: not kamailio.contacts("pin1"), within=5, what="dropped")
        dropped = time.monotonic() - began
        await eventually_async(lambda: _is(deps, line, "unregistered"), what="shown unregistered")
        print(f"re-pinned in {moved:.1f} s, pinned to nobody: dropped in {dropped:.1f} s")
        assert moved < 3 and dropped < 4
