"""A call's ntgcalls runs in its own process: killing it ends that call and nothing else.

The calls themselves (audio both ways, every way a call ends) are test_leg.py's, which run
through ``HostedMedia`` too; here: the child's wire, its exit, and what a crash does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from telesip.telegram.adapter import DhConfig, TgUser
from telesip.telegram.errors import CallMediaFailed
from telesip.telegram.fake import Behaviour, FakeTelegram
from telesip.telegram.leg import TelegramLeg
from telesip.telegram.media_host import HostedMedia, _frame, _read_frame
from tests.telegram.netns import Netns

ALICE, BOB = 1001, 1002
CONNECT = 10.0


@pytest.fixture
async def tg(netns: Netns) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_a_killed_media_process_ends_its_call_only(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    alice = tg.user(ALICE, Behaviour.answer(after=0.01))
    bob = tg.user(BOB, Behaviour.answer(after=0.01))
    legs = [TelegramLeg(tg.account(TgUser(100 + i, f"Caller {i}"))) for i in range(2)]
    await legs[0].start(ALICE)
    await legs[1].start(BOB)
    async with asyncio.timeout(CONNECT):
        for leg in legs:
            assert await leg.wait_until("connected")
    media = legs[0]._media
    assert media is not None and media.pid is not None
    with caplog.at_level(logging.WARNING, logger="telesip.telegram.media_host"):
        os.kill(media.pid, signal.SIGSEGV)  # what a crash inside ntgcalls does
        async with asyncio.timeout(CONNECT):
            await legs[0].ended.wait()
            await alice.ended.wait()
    assert legs[0].end_reason == "disconnect" and alice.end_reason == "disconnect"
    assert "killed by SIGSEGV" in caplog.text
    assert legs[1].state == "connected" and not bob.ended.is_set()  # the other call goes on
    await legs[1].hangup()
    async with asyncio.timeout(CONNECT):
        await bob.ended.wait()
    assert bob.end_reason == "hangup"


async def test_a_method_waiting_on_a_dead_child_raises() -> None:
    media = HostedMedia(ALICE)
    await media.open()
    assert media.pid is not None
    os.kill(media.pid, signal.SIGKILL)
    with pytest.raises(CallMediaFailed) as err:
        await media.init_exchange(DhConfig(g=3, p=b"\x17" * 256, random=b"\x01" * 256), None)
    assert "killed by SIGKILL" in err.value.message
    await media.close()  # nothing left to stop: returns at once


async def test_the_child_exits_when_the_call_is_closed() -> None:
    media = HostedMedia(ALICE)
    await media.open()
    proc = media._proc
    assert proc is not None
    await media.close()
    assert proc.returncode == 0
    await media.close()  # twice is fine


async def test_the_wire_answers_bad_requests_and_keeps_the_call() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telesip.telegram.media_host",
        str(ALICE),
        "8000",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None

    async def ask(op: str, *args: object) -> dict[str, object]:
        assert proc.stdin is not None and proc.stdout is not None
        request = {"id": 7, "op": op, "args": list(args)}
        proc.stdin.write(_frame(b"C", json.dumps(request).encode()))
        async with asyncio.timeout(10):
            kind, payload = await _read_frame(proc.stdout)
        assert kind == b"C"
        answer: dict[str, object] = json.loads(payload)
        return answer

    try:
        assert await ask("format_disk") == {"id": 7, "error": "no such operation: 'format_disk'"}
        assert await ask("open") == {"id": 7, "ok": None}
        wrong = await ask("exchange_keys", "not bytes", 0)
        assert wrong["id"] == 7 and "error" in wrong
        assert await ask("close") == {"id": 7, "ok": None}
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_media_process_that_cannot_start_is_a_failed_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    media = HostedMedia(ALICE)
    with pytest.raises(CallMediaFailed) as err:
        await media.open()
    assert "could not start" in err.value.message
    await media.close()
    assert media.pid is None
