"""Call recordings: the file a call's recording is kept in, a remote worker's upload of one,
and their lifetime (expired recordings are forgotten and their files pruned).
"""

from __future__ import annotations

import asyncio
import logging
import os
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telesip.domain import errors
from telesip.domain.calls import (
    CallRecord,
)
from telesip.domain.errors import CallNotFound
from telesip.services import calls
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)


def recording_name(call_id: int) -> str:
    """The file a call's recording is kept in, under DATA_DIR/recordings."""
    return f"call-{call_id}.wav"


async def receive(
    deps: Dependencies,
    recordings_dir: Path,
    worker_id: int,
    call_id: int,
    chunks: AsyncIterator[bytes],
    *,
    limit: int,
) -> str:
    """A remote worker's recording of a call it runs, before it reports the end: streamed into
    ``recordings_dir`` (at most ``limit`` bytes), kept only if it is the WAV a worker writes
    (8 kHz, 16-bit, mono). Returns the file name for ``mark_ended``."""
    call = await calls.call_of_worker(deps, worker_id, call_id)
    if not call.active:
        raise CallNotFound()
    name = recording_name(call.id)
    part = recordings_dir / f"{name}.part"
    await asyncio.to_thread(recordings_dir.mkdir, parents=True, exist_ok=True)
    out = await asyncio.to_thread(part.open, "wb")
    size = 0
    try:
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise errors.InvalidInput(f"The recording is over {limit} bytes.")
                await asyncio.to_thread(out.write, chunk)
        finally:
            await asyncio.to_thread(out.close)
        await asyncio.to_thread(_keep, part, recordings_dir / name)
    finally:
        await asyncio.to_thread(part.unlink, missing_ok=True)
    return name


def _keep(part: Path, final: Path) -> None:
    """``part`` becomes ``final`` if it is the WAV a worker writes (8 kHz 16-bit mono)."""
    try:
        with wave.open(str(part), "rb") as wav:
            shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            frames = wav.getnframes()
    except (wave.Error, EOFError) as exc:
        raise errors.InvalidInput(f"Not a WAV recording ({exc}).") from None
    if shape != (1, 2, 8000) or not frames:
        raise errors.InvalidInput("A recording is an 8 kHz 16-bit mono WAV file, not empty.")
    part.replace(final)


async def expired(deps: Dependencies, before: datetime) -> list[CallRecord]:
    async with deps.uow(readonly=True) as uow:
        return await uow.calls.with_recordings_before(before)


async def forget(deps: Dependencies, call_id: int) -> None:
    async with deps.uow() as uow:
        await uow.calls.clear_recording(call_id)
        await uow.commit()


def _recording_file(recordings_dir: Path, stored: str | None) -> Path | None:
    """The file a stored recording name stands for: only its last part, under
    ``recordings_dir``, so no name (``../x``, ``/etc/x``) reaches outside it."""
    name = Path(stored or "").name
    if name in ("", ".", "..") or "\x00" in name:
        return None
    return recordings_dir / name


async def prune(deps: Dependencies, recordings_dir: Path, days: int) -> int:
    """TELESIP_RECORDING_DAYS: delete the recordings of calls that ended more than ``days``
    ago and clear them from the history; returns how many files were deleted. A file already
    gone is no error. A recording file no call names any more (its worker died mid-call) goes
    by its age. A file that cannot be deleted stays named, for the next run."""
    before = deps.clock.now() - timedelta(days=days)
    deleted = 0
    for call in await expired(deps, before):
        path = _recording_file(recordings_dir, call.recording)
        if path is not None:
            try:
                path.unlink()
                deleted += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("recording %s of call #%d: %s", path.name, call.id, exc.strerror)
                continue
        await forget(deps, call.id)
    return deleted + _prune_unnamed(recordings_dir, before)


def _prune_unnamed(recordings_dir: Path, before: datetime) -> int:
    """Recording files last written before ``before``: every call that can still name one
    ended later, so these are left over (the bridge names them ``call-<id>.<ext>``)."""
    deleted = 0
    try:
        entries = list(os.scandir(recordings_dir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.startswith("call-") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            written = datetime.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime, UTC)
            if written < before:
                os.unlink(entry.path)
                deleted += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("recording %s: %s", entry.name, exc.strerror)
    return deleted
