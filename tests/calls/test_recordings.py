"""Recordings on both backends: the per-account setting reaches the worker, and recordings of
calls that ended more than TELESIP_RECORDING_DAYS ago are deleted (files and history column),
by the service, the worker's hourly task and ``telesip calls prune-recordings``."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from telesip.bootstrap import services_for
from telesip.cli import app
from telesip.config import Settings
from telesip.domain import errors, events
from telesip.domain.calls import EndReason
from telesip.domain.clock import FakeClock
from telesip.services import accounts, audit, calls, leases, recordings
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from telesip.workers.lines import to_config
from telesip.workers.service import Timing, Worker
from tests.core.helpers import ALICE, BOB, Recorder, sip

DAY = 86400.0


@pytest.fixture
def deps(services: Dependencies) -> Dependencies:
    return services


async def _ended_call(deps: Dependencies, line: int, recording: str) -> int:
    call, _ = await calls.start_incoming(deps, line, "+15550001", worker_id=7)
    await calls.mark_answered(deps, call.id, "caller")
    await calls.mark_ended(deps, call.id, EndReason.COMPLETED, recording=recording)
    return call.id


def _write(path: Path, when: datetime | None = None) -> Path:
    path.write_bytes(b"RIFF")
    if when is not None:
        os.utime(path, (when.timestamp(), when.timestamp()))
    return path


async def _named(deps: Dependencies) -> dict[int, str | None]:
    """Every call still naming a recording (ended before the far future)."""
    far = datetime(2100, 1, 1).astimezone()
    return {c.id: c.recording for c in await recordings.expired(deps, far)}


async def test_recording_is_a_setting_the_worker_gets(deps: Dependencies) -> None:
    seen = Recorder(deps)
    line = await accounts.create_account(deps, ALICE, sip())
    (account,) = await leases.accounts_by_id(deps, {line})
    assert account.settings.record is False and to_config(account).record is False

    await accounts.update_settings(deps, ALICE, line, record=True)
    (account,) = await leases.accounts_by_id(deps, {line})
    assert account.settings.record is True and to_config(account).record is True
    (changed,) = seen.of(events.SettingsChanged)
    assert isinstance(changed, events.SettingsChanged)
    assert changed.recording is True and not changed.registration_changed
    (record, *_) = await audit.account_audit(deps, ALICE, line)
    assert (record.action, record.details) == ("settings_changed", {"fields": ["record"]})

    await accounts.update_settings(deps, ALICE, line, record=True)  # no change: nothing recorded
    assert len(seen.of(events.SettingsChanged)) == 1
    with pytest.raises(errors.InvalidSettings):
        await accounts.update_settings(deps, ALICE, line, record="yes")
    with pytest.raises(errors.AccountNotFound):  # a stranger learns nothing
        await accounts.update_settings(deps, BOB, line, record=False)
    (account,) = await leases.accounts_by_id(deps, {line})
    assert account.settings.record is True


async def test_old_recordings_go_new_ones_stay(
    deps: Dependencies, clock: FakeClock, tmp_path: Path
) -> None:
    rec = tmp_path / "recordings"
    rec.mkdir()
    secret = _write(tmp_path / "secret.wav")  # outside the recordings: never touched
    line = await accounts.create_account(deps, ALICE, sip())
    start = clock.now()

    old = await _ended_call(deps, line, "placeholder")
    await _set_recording(deps, old, f"call-{old}.wav")
    _write(rec / f"call-{old}.wav", start)
    missing = await _ended_call(deps, line, "call-gone.wav")  # its file is already gone
    escape = await _ended_call(deps, line, "../secret.wav")
    dotdot = await _ended_call(deps, line, "..")
    absolute = await _ended_call(deps, line, str(secret))
    orphan = _write(rec / "call-999.wav", start)  # no call names it: a worker died mid-call
    other = _write(rec / "notes.txt", start)  # not a recording
    (rec / "call-dir").mkdir()

    clock.advance(20 * DAY)
    new = await _ended_call(deps, line, "placeholder")
    await _set_recording(deps, new, f"call-{new}.wav")
    fresh = _write(rec / f"call-{new}.wav", clock.now())
    clock.advance(11 * DAY)  # the old calls ended 31 days ago, the new one 11

    assert await recordings.prune(deps, rec, 30) == 2  # call-<old>.wav and call-999.wav
    assert not (rec / f"call-{old}.wav").exists() and not orphan.exists()
    assert fresh.exists() and other.exists() and (rec / "call-dir").is_dir()
    assert secret.exists() and secret.read_bytes() == b"RIFF"
    assert await _named(deps) == {new: f"call-{new}.wav"}
    assert {old, missing, escape, dotdot, absolute}.isdisjoint(await _named(deps))
    assert await recordings.prune(deps, rec, 30) == 0  # nothing left to do

    clock.advance(20 * DAY)
    assert await recordings.prune(deps, rec, 30) == 1
    assert not fresh.exists() and await _named(deps) == {}


async def test_a_name_reaching_out_deletes_only_inside(
    deps: Dependencies, clock: FakeClock, tmp_path: Path
) -> None:
    rec = tmp_path / "recordings"
    rec.mkdir()
    outside = _write(tmp_path / "call-1.wav", clock.now())
    inside = _write(rec / "call-1.wav", clock.now())
    line = await accounts.create_account(deps, ALICE, sip())
    await _ended_call(deps, line, "../call-1.wav")
    clock.advance(31 * DAY)
    # the name's last part, under the recordings directory, as the bot's outbox reads it
    assert await recordings.prune(deps, rec, 30) == 1
    assert outside.exists() and not inside.exists()


async def test_no_recordings_directory_yet(
    deps: Dependencies, clock: FakeClock, tmp_path: Path
) -> None:
    line = await accounts.create_account(deps, ALICE, sip())
    await _ended_call(deps, line, "call-5.wav")
    clock.advance(31 * DAY)
    assert await recordings.prune(deps, tmp_path / "absent", 30) == 0
    assert await _named(deps) == {}


async def test_the_worker_prunes_on_start_and_every_hour(
    deps: Dependencies, clock: FakeClock, tmp_path: Path
) -> None:
    rec = tmp_path / "recordings"
    rec.mkdir()
    old = _write(rec / "call-1.wav", clock.now() - timedelta(days=8))
    worker = Worker(
        deps,
        cast(Any, None),  # the registration manager is not used by this task
        name="w1",
        timing=Timing(prune=0.05),
        recordings=rec,
        recording_days=7,
    )
    task = asyncio.create_task(worker._prune_forever())
    try:
        await _until_gone(old)
        await _until_gone(_write(rec / "call-2.wav", clock.now() - timedelta(days=8)))
    finally:
        task.cancel()


async def _until_gone(path: Path) -> None:
    for _ in range(500):
        if not await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path.name} was not deleted")


async def _set_recording(deps: Dependencies, call_id: int, name: str) -> None:
    """The bridge names its file after the call id it learns when the call starts."""
    async with deps.engine.begin() as conn:
        await conn.execute(update(t.calls).where(t.calls.c.id == call_id).values(recording=name))


def test_cli_prunes_and_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    env = {"TELESIP_DATA_DIR": str(data), "TELESIP_DATABASE_URL": "", "TELESIP_SECRET_KEY": ""}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    async def setup() -> None:
        async with services_for(Settings(), upgrade=True) as deps:
            line = await accounts.create_account(deps, ALICE, sip())
            call_id = await _ended_call(deps, line, "call-1.wav")
            async with deps.engine.begin() as conn:
                long_ago = deps.clock.now() - timedelta(days=40)
                await conn.execute(
                    update(t.calls).where(t.calls.c.id == call_id).values(ended_at=long_ago)
                )

    asyncio.run(setup())
    (data / "recordings").mkdir()
    old = _write(data / "recordings" / "call-1.wav")
    fresh = _write(data / "recordings" / "call-2.wav")
    result = CliRunner().invoke(app, ["calls", "prune-recordings"], env=env)
    assert result.exit_code == 0, result.output
    assert "deleted 1 recording file(s)" in result.output
    assert not old.exists() and fresh.exists()

    result = CliRunner().invoke(
        app, ["calls", "prune-recordings"], env=env | {"TELESIP_RECORDING_DAYS": "0"}
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: TELESIP_RECORDING_DAYS")
    assert len(result.output.strip().splitlines()) == 1
