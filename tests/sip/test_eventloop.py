"""The event loop a telesip process runs on: uvloop when installed (the dev extra has it), and
the registration manager works on it the same as on asyncio's loop."""

from __future__ import annotations

import asyncio
import gc

import pytest

from telesip import eventloop
from telesip.domain import RegistrationReport
from telesip.workers import RegistrationManager

from .fake_registrar import start_fake
from .test_manager import account


@pytest.mark.parametrize(
    "thresholds", [eventloop.GC_THRESHOLDS, eventloop.GC_REQUEST_THRESHOLDS], ids=["run", "bot-api"]
)
def test_tune_gc_freezes_what_exists_and_sets_the_thresholds(
    thresholds: tuple[int, int, int],
) -> None:
    before = gc.get_threshold()
    try:
        eventloop.tune_gc(thresholds)
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_choice_of_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop", reason="the uvloop extra is not installed")
    monkeypatch.delenv("TELESIP_EVENT_LOOP", raising=False)
    assert eventloop.loop_name() == "uvloop"
    monkeypatch.setenv("TELESIP_EVENT_LOOP", "asyncio")
    assert eventloop.loop_name() == "asyncio"
    assert eventloop.loop_name("uvloop") == "uvloop"
    monkeypatch.setenv("TELESIP_EVENT_LOOP", "tokio")
    with pytest.raises(ValueError, match="TELESIP_EVENT_LOOP"):
        eventloop.loop_name()


async def _register_two() -> tuple[str, list[bool], str]:
    fake = await start_fake()
    registered: set[int] = set()
    both = asyncio.Event()

    def sink(st: RegistrationReport) -> None:
        if st.state == "registered":
            registered.add(st.account_id)
            if len(registered) == 2:
                both.set()

    manager = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0, status_sink=sink)
    await manager.start()
    try:
        manager.apply(account(fake.port, 1))
        manager.apply(account(fake.port, 2))
        async with asyncio.timeout(5):
            await both.wait()
        return (
            type(asyncio.get_running_loop()).__module__,
            ["Authorization" in r.headers for r in fake.requests],
            manager.status(2).state,
        )
    finally:
        await manager.stop(grace=1.0)
        fake.close()


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_registrations_work_on_either_loop(choice: str) -> None:
    if choice == "uvloop":
        pytest.importorskip("uvloop", reason="the uvloop extra is not installed")
    module, authorized, state = eventloop.run(_register_two(), choice=choice)
    assert module.startswith("uvloop" if choice == "uvloop" else "asyncio")
    # both start at once, so both are challenged once (digest over the fake's nonce)
    assert sorted(authorized) == [False, False, True, True]
    assert state == "registered"
