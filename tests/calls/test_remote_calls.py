"""Calls on a remote worker's line: the worker has no database, only the control plane (the
real API app over HTTP on loopback). A far phone calls its line and the person talks in
Telegram; the person dials out through it, presses a key and hangs up in the bot; the history,
the messages and the commands all travel through the control plane (end to end, in a
namespace)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn

import tests.sip_integration.conftest as sip_conftest
from telesip.calls.manager import CallManager
from telesip.calls.rtp_ports import PortPool
from telesip.config import Settings
from telesip.domain.calls import CallState, Direction, EndReason
from telesip.media.analysis import dominant_frequency, rms_dbfs
from telesip.services import accounts, calls, fleet, outbox
from telesip.services import callers as callers_svc
from telesip.services.dependencies import Dependencies
from telesip.workers.registrar import RegistrationManager
from telesip.workers.remote import RemoteWorker
from tests.calls.conftest import (
    CALLER,
    Keys,
    Rig,
    database,
    dial_line,
    line_settings,
    open_far,
    telegram_side,
)
from tests.calls.sipp import far_answers, far_calls, run_sipp
from tests.calls.test_incoming import _outbox_keys
from tests.calls.test_outgoing import _ended
from tests.calls.test_recording_e2e import _level_at
from tests.core.helpers import ALICE
from tests.fakes.telegram_calls import play_tone
from tests.fleet.test_worker import Forward
from tests.sip_integration.conftest import eventually, need


async def _control_plane(
    deps: Dependencies, data_dir: Path
) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    from telesip.api.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(deps, Settings(lease_ttl_seconds=10, data_dir=data_dir)),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 10, "the control plane to listen")
    return f"http://127.0.0.1:{port}", server, task


@pytest.fixture
async def remote_rig(
    calls_kamailio: tuple[sip_conftest.Kamailio, int], tmp_path: Path
) -> AsyncIterator[Rig]:
    kam, uas_port = calls_kamailio
    sipp = need("sipp")
    s = await database(tmp_path)
    _, credential = await fleet.create_worker(s, "office-lan", remote=True, owner_id=ALICE.id)
    assert credential is not None
    line = await accounts.create_account(s, ALICE, line_settings(kam, worker="office-lan"))
    url, server, serving = await _control_plane(s, tmp_path / "central")
    telegram, pool, person = telegram_side()
    sink = Forward()
    manager = RegistrationManager(status_sink=sink, bind_host="127.0.0.1")
    await manager.start()
    manager_calls = CallManager(
        manager,
        pool,
        ports=PortPool("30000-30099"),
        media_bind="127.0.0.1",
        ring_timeout=5,
        recordings=tmp_path / "remote-recordings",
    )
    worker = RemoteWorker(
        manager, url, name="office-lan", credential=credential, calls=manager_calls
    )
    sink.target = worker.on_status
    runner = asyncio.create_task(worker.run())
    rig = Rig(s, kam, uas_port, sipp, tmp_path, telegram, pool, manager_calls, worker, line, person)
    try:
        await eventually(
            lambda: runner.done() or bool(kam.contacts("100")), 15, "line 100 to register"
        )
        assert not runner.done(), runner.exception()
        yield rig
    finally:
        runner.cancel()  # its calls end and their rows close before it leaves the plane
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await manager.stop()
        if rig.far.stream is not None:
            await rig.far.stream.close()
        await telegram.close()
        server.should_exit = True
        await serving
        await s.engine.dispose()


async def test_a_far_phone_calls_a_remote_workers_line(remote_rig: Rig) -> None:
    rig = remote_rig
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, "hangs-up", talk_ms=4000))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    far_tone = asyncio.create_task(play_tone(far.send_pcm, 1000, seconds=2.5))
    tg_tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440, seconds=2.5))
    async with asyncio.timeout(10):
        in_telegram = await rig.person.heard.sound(1.0)
        on_sip = await rig.far.sound_of(1.0)
    assert abs(dominant_frequency(in_telegram) - 1000) < 15 and rms_dbfs(in_telegram) > -30
    assert abs(dominant_frequency(on_sip) - 440) < 15 and rms_dbfs(on_sip) > -30
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    assert (call.direction, call.state, call.number) == (Direction.IN, CallState.ANSWERED, "sipp")
    assert call.caller == "Telesip Calls"  # the remote worker's caller account, on the row
    # ... and the bot names it to people (/calls: "calls come from ...")
    named = {c.id: c for c in await callers_svc.caller_accounts(rig.deps)}
    assert named[CALLER.id].username == "telesip_calls"
    assert await sipp.done() == 0, sipp.errors()
    await asyncio.gather(far_tone, tg_tone, return_exceptions=True)
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.COMPLETED and ended.duration is not None
    (worker,) = [w for w in await fleet.list_workers(rig.deps, ttl=10) if w.name == "office-lan"]
    assert ended.worker_id == worker.id
    assert "call.incoming" in await _outbox_keys(rig)
    async with asyncio.timeout(2):
        await rig.calls.settled()
    assert rig.calls.active == 0 and rig.calls.ports.in_use == 0 and rig.pool.free == 1


async def test_dialling_out_through_a_remote_workers_line(remote_rig: Rig) -> None:
    rig = remote_rig
    far = await open_far(rig)
    keys = Keys()
    far.on_dtmf(keys)
    sipp = await run_sipp(
        rig.sipp, rig.tmp, far_answers(far.local_port), port=rig.uas_port, remote=None
    )
    call = await calls.request_call(rig.deps, ALICE, "+1 555 0100", rig.line)
    async with asyncio.timeout(15):
        await rig.person.connected.wait()  # claimed by the remote worker, which rang Alice
    tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440, seconds=4.0))
    async with asyncio.timeout(15):
        on_sip = await rig.far.sound_of(1.0)
    assert abs(dominant_frequency(on_sip) - 440) < 15
    await eventually_answered(rig, call.id)
    await calls.press_key(rig.deps, ALICE, call.id, "5")  # the bot's keypad does exactly this
    async with asyncio.timeout(5):
        await keys.got.wait()
    assert keys.digits == ["5"]
    await calls.hang_up(rig.deps, ALICE, call.id)
    assert await sipp.done() == 0, sipp.errors()  # the far phone got its BYE
    await tone
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.COMPLETED
    keys = [m.kind for m in await outbox.due(rig.deps, limit=100)]
    assert "keypad" in keys and "drop_keypad" in keys


async def eventually_answered(rig: Rig, call_id: int) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while (await calls.get_call(rig.deps, call_id)).state is not CallState.ANSWERED:
        assert asyncio.get_running_loop().time() < deadline, "the row was never answered"
        await asyncio.sleep(0.05)


async def test_a_remote_workers_recording_reaches_the_owner(remote_rig: Rig) -> None:
    """Recorded on the worker's machine, uploaded when the call ends, sent from the service."""
    rig = remote_rig
    await accounts.update_settings(rig.deps, ALICE, rig.line, record=True)
    await eventually(
        lambda: bool(getattr(rig.calls.manager.config(rig.line), "record", False)),
        10,
        "the remote worker to learn the line records",
    )
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, "hangs-up", talk_ms=3000))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    await asyncio.gather(
        play_tone(far.send_pcm, 1000, seconds=2.0),
        play_tone(rig.person.send_pcm, 440, seconds=2.0),
    )
    assert await sipp.done() == 0, sipp.errors()
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    ended = await _ended(rig, call.id)
    assert ended.recording == f"call-{call.id}.wav"
    with wave.open(str(rig.tmp / "central" / "recordings" / ended.recording)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    assert _level_at(samples, 1000) > 50 and _level_at(samples, 440) > 50
    assert list((rig.tmp / "remote-recordings").iterdir()) == []  # uploaded, then let go
    box = [m for m in await outbox.due(rig.deps, limit=100) if m.kind == "document"]
    assert [(m.chat_id, m.payload["file"]) for m in box] == [(ALICE.id, ended.recording)]
