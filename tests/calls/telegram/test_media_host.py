"""The calls' ntgcalls run in a child process: killing it fails those calls, not this process.

The calls themselves (audio both ways, every way a call ends) are test_leg.py's, which run
through ``HostedMedia`` too; here: the child's wire, its lifetime, the negotiation turns, and
what a crash does.
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

from telesip.calls.telegram.adapter import DhConfig, TgUser
from telesip.calls.telegram.errors import CallMediaFailed
from telesip.calls.telegram.leg import TelegramLeg
from telesip.calls.telegram.media_host import HostedMedia
from telesip.calls.telegram.media_host.framing import FrameReader, frame, read_frame
from tests.calls.telegram.netns import Netns
from tests.fakes.telegram_calls import Behaviour, FakeTelegram

ALICE, BOB, CAROL = 1001, 1002, 1003
CONNECT = 10.0
DH = DhConfig(g=3, p=b"\x17" * 256, random=b"\x01" * 256)


@pytest.fixture
async def tg(netns: Netns) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def caller(tg: FakeTelegram, i: int) -> TelegramLeg:
    return TelegramLeg(tg.account(TgUser(100 + i, f"Caller {i}")))


async def test_calls_share_one_media_process_which_ends_with_the_last_call(
    tg: FakeTelegram,
) -> None:
    for person in (ALICE, BOB):
        tg.user(person, Behaviour.answer(after=0.01))
    legs = [caller(tg, 0), caller(tg, 1)]
    await legs[0].start(ALICE)
    await legs[1].start(BOB)
    async with asyncio.timeout(CONNECT):  # both negotiate, one after the other
        for leg in legs:
            assert await leg.wait_until("connected")
    media = [leg._media for leg in legs]
    assert media[0] is not None and media[1] is not None
    host = media[0].host
    assert media[1].host is host and host.calls == 2 and host.pid is not None
    assert host.pid != os.getpid()
    proc = host._proc
    assert proc is not None
    await legs[0].hangup()
    assert proc.returncode is None and host.calls == 1  # the other call still runs there
    await legs[1].hangup()
    assert proc.returncode == 0 and host.calls == 0


async def test_a_killed_media_process_fails_its_calls_and_the_next_call_gets_a_new_one(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    people = [tg.user(p, Behaviour.answer(after=0.01)) for p in (ALICE, BOB, CAROL)]
    legs = [caller(tg, 0), caller(tg, 1)]
    await legs[0].start(ALICE)
    await legs[1].start(BOB)
    async with asyncio.timeout(CONNECT):
        for leg in legs:
            assert await leg.wait_until("connected")
    assert legs[0]._media is not None
    old = legs[0]._media.host
    assert old.pid is not None
    with caplog.at_level(logging.WARNING, logger="telesip.calls.telegram.media_host"):
        os.kill(old.pid, signal.SIGSEGV)  # what a crash inside ntgcalls does
        async with asyncio.timeout(CONNECT):
            for leg, person in zip(legs, people, strict=False):
                await leg.ended.wait()
                await person.ended.wait()
    assert [leg.end_reason for leg in legs] == ["disconnect", "disconnect"]
    assert [p.end_reason for p in people[:2]] == ["disconnect", "disconnect"]
    assert "killed by SIGSEGV" in caplog.text
    third = caller(tg, 2)  # this process lives on, and so do calls
    await third.start(CAROL)
    async with asyncio.timeout(CONNECT):
        assert await third.wait_until("connected")
    assert third._media is not None and third._media.host is not old
    await third.hangup()
    assert third.end_reason == "hangup"


async def test_a_method_waiting_on_a_dead_child_raises() -> None:
    media = HostedMedia(ALICE)
    await media.open()
    assert media.pid is not None
    os.kill(media.pid, signal.SIGKILL)
    with pytest.raises(CallMediaFailed) as err:
        await media.init_exchange(DH, None)
    assert "killed by SIGKILL" in err.value.message
    await media.close()  # nothing left to stop: returns at once
    await media.close()  # twice is fine


async def test_a_media_process_that_cannot_start_is_a_failed_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    media = HostedMedia.solo(ALICE)
    with pytest.raises(CallMediaFailed) as err:
        await media.open()
    assert "could not start" in err.value.message
    await media.close()
    assert media.pid is None


async def test_the_wire_answers_bad_requests_and_keeps_the_calls() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telesip.calls.telegram.media_host",
        "--turns",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None

    async def ask(media_id: int, op: str, *args: object) -> dict[str, object]:
        assert proc.stdin is not None and proc.stdout is not None
        request = {"id": 7, "op": op, "args": list(args)}
        proc.stdin.write(frame(b"C", media_id, json.dumps(request).encode()))
        async with asyncio.timeout(10):
            kind, answered_id, payload = await read_frame(proc.stdout)
        assert (kind, answered_id) == (b"C", media_id)
        answer: dict[str, object] = json.loads(payload)
        return answer

    try:
        assert await ask(1, "format_disk") == {"id": 7, "error": "no such operation: 'format_disk'"}
        assert await ask(1, "init_exchange", None, None) == {
            "id": 7,
            "error": "init_exchange: KeyError",
        }
        assert await ask(1, "open", ALICE, 8000) == {"id": 7, "ok": None}
        assert await ask(2, "open", BOB, 8000) == {"id": 7, "ok": None}
        wrong = await ask(1, "exchange_keys", "not bytes", 0)
        assert wrong["id"] == 7 and "error" in wrong
        assert await ask(1, "close") == {"id": 7, "ok": None}
        assert await ask(2, "close") == {"id": 7, "ok": None}
        proc.stdin.close()
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_solo_hosts_are_a_process_per_call() -> None:
    a, b = HostedMedia.solo(ALICE), HostedMedia.solo(BOB)
    await asyncio.gather(a.open(), b.open())
    assert a.pid is not None and b.pid is not None and a.pid != b.pid
    assert a.host.solo and b.host.solo
    await asyncio.gather(a.close(), b.close())


@pytest.mark.parametrize("chunk", [1, 7, 4096], ids=["byte-by-byte", "odd-chunks", "a-burst"])
async def test_the_frame_reader_takes_whole_frames_however_the_bytes_come(chunk: int) -> None:
    """Frames cut anywhere or many in one read come out whole and in order; the end of the
    stream in mid-frame, and a length no frame has, are errors."""
    sent = [(b"P", 1, b"\x01\x02" * 160), (b"S", 2, b"blob"), (b"C", 1, b"{}"), (b"T", 3, b"")]
    wire = b"".join(frame(*f) for f in sent) + frame(b"P", 9, b"cut")[:-1]
    reader = asyncio.StreamReader()
    for i in range(0, len(wire), chunk):
        reader.feed_data(wire[i : i + chunk])
    reader.feed_eof()
    frames = FrameReader(reader)
    got = []
    with pytest.raises(asyncio.IncompleteReadError):
        while True:
            got += await frames.frames()
    assert got == sent
    bad = asyncio.StreamReader()
    bad.feed_data(b"\x00\x00\x00\x02P\x00\x00\x00\x01")
    with pytest.raises(ValueError, match="a frame of 2 bytes"):
        await FrameReader(bad).frames()
