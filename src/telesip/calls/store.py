"""Where a worker's calls are written: the history row, the person's messages, the requests and
keypad presses waiting for it. A worker with database access uses ``DbCallStore`` (the
service layer); a remote worker (``telesip worker --control-url``) uses ``RemoteCallStore``,
the same operations over the control plane, which lets it touch only calls on the lines pinned
to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from telesip_client import ProblemError, Refused, WorkerClient
from telesip_client.models import WorkerCall

from telesip.domain import errors
from telesip.domain.calls import CallRecord, CallState, CommandKind, Direction, EndReason
from telesip.domain.readmodels import Command
from telesip.services import calls as svc
from telesip.services import outbox
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)


class CallStore(Protocol):
    async def start_incoming(self, account_id: int, number: str) -> CallRecord:
        """Record a call arriving on a line (ended at once when the line is disabled or its
        person is in a call: the worker answers 480 / 486)."""

    async def mark_answered(self, call_id: int, caller: str | None) -> bool: ...

    async def mark_ended(
        self,
        call_id: int,
        reason: EndReason,
        *,
        sip_status: int | None = None,
        recording: str | None = None,
        tell: str | None = None,
    ) -> CallRecord | None:
        """Close the row once (None when closed already), telling the person ``tell``."""

    async def tell(self, call: CallRecord, key: str, /, **extra: Any) -> None: ...

    async def show_keypad(self, call: CallRecord) -> None: ...

    async def claim_outgoing(self, account_ids: list[int]) -> list[CallRecord]:
        """Outgoing calls requested on these lines, each handed to one worker."""

    async def take_commands(self, call_ids: list[int]) -> list[Command]: ...

    async def end_orphans(self) -> int:
        """End the calls this worker's previous run left open."""


class DbCallStore:
    """The service layer, for a worker that reaches the database."""

    def __init__(self, deps: Dependencies, worker_id: int) -> None:
        self.deps = deps
        self.worker_id = worker_id

    async def start_incoming(self, account_id: int, number: str) -> CallRecord:
        record, _ = await svc.start_incoming(self.deps, account_id, number, self.worker_id)
        return record

    async def mark_answered(self, call_id: int, caller: str | None) -> bool:
        return await svc.mark_answered(self.deps, call_id, caller)

    async def mark_ended(
        self,
        call_id: int,
        reason: EndReason,
        *,
        sip_status: int | None = None,
        recording: str | None = None,
        tell: str | None = None,
    ) -> CallRecord | None:
        return await svc.mark_ended(
            self.deps, call_id, reason, sip_status=sip_status, recording=recording, tell=tell
        )

    async def tell(self, call: CallRecord, key: str, /, **extra: Any) -> None:
        await outbox.tell(self.deps, call, key, **extra)

    async def show_keypad(self, call: CallRecord) -> None:
        await outbox.show_keypad(self.deps, call)

    async def claim_outgoing(self, account_ids: list[int]) -> list[CallRecord]:
        return await svc.claim_outgoing(self.deps, self.worker_id, account_ids)

    async def take_commands(self, call_ids: list[int]) -> list[Command]:
        return await svc.take_commands(self.deps, call_ids)

    async def end_orphans(self) -> int:
        return await svc.end_orphans(self.deps, self.worker_id)


T = TypeVar("T")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_from_wire(d: WorkerCall) -> CallRecord:
    """A history row as the control plane sends it (``WorkerCall``)."""
    created = _when(d["created_at"])
    assert created is not None
    return CallRecord(
        id=int(d["id"]),
        account_id=int(d["account_id"]),
        owner_id=int(d["owner_id"]),
        user_id=int(d["user_id"]),
        direction=Direction(d["direction"]),
        number=str(d["number"]),
        line=str(d["line"]),
        state=CallState(d["state"]),
        created_at=created,
        answered_at=_when(d.get("answered_at")),
        ended_at=_when(d.get("ended_at")),
        end_reason=EndReason(reason) if (reason := d.get("end_reason")) else None,
        sip_status=d.get("sip_status"),
        worker_id=d.get("worker_id"),
        caller=d.get("caller"),
        recording=d.get("recording"),
    )


def refusal(plane: WorkerClient, exc: Refused) -> errors.ConfigError:
    """The one line a remote worker ends with when the control plane refuses it."""
    return errors.ConfigError(f"the control plane at {plane.url} refused this worker: {exc.detail}")


class RemoteCallStore:
    """The same operations over a remote worker's control plane (``telesip_client``'s
    ``WorkerClient``, joined: it adds the worker's name, instance and credential). A call's
    recording is uploaded from ``recordings`` before its end is reported, then deleted here:
    the bot sends it to the owner from the service's data directory. An unreachable control
    plane (or an error answer) is StorageUnavailable, as an unreachable database is; a refused
    credential is the worker's ConfigError."""

    def __init__(self, plane: WorkerClient, recordings: Path | None = None) -> None:
        self._plane = plane
        self._recordings = recordings

    async def _ask(self, request: Awaitable[T]) -> T:
        try:
            return await request
        except Refused as exc:
            raise refusal(self._plane, exc) from None
        except (httpx.HTTPError, ProblemError) as exc:
            raise errors.StorageUnavailable(
                f"the control plane is not reachable: {type(exc).__name__}: {exc}"
            ) from exc

    async def start_incoming(self, account_id: int, number: str) -> CallRecord:
        return record_from_wire(await self._ask(self._plane.call_started(account_id, number)))

    async def mark_answered(self, call_id: int, caller: str | None) -> bool:
        return bool((await self._ask(self._plane.call_answered(call_id, caller)))["ok"])

    async def mark_ended(
        self,
        call_id: int,
        reason: EndReason,
        *,
        sip_status: int | None = None,
        recording: str | None = None,
        tell: str | None = None,
    ) -> CallRecord | None:
        if recording is not None:
            recording = await self._send_recording(call_id, recording)
        answer = await self._ask(
            self._plane.call_ended(
                call_id, reason.value, sip_status=sip_status, tell=tell, recording=recording
            )
        )
        return record_from_wire(answer) if answer else None

    async def _send_recording(self, call_id: int, name: str) -> str | None:
        """Upload the file; its name on the service, or None (the file stays here, logged)."""
        if self._recordings is None:
            return None
        path = self._recordings / Path(name).name

        async def chunks() -> AsyncIterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(65536):
                    yield chunk

        try:
            size = (await asyncio.to_thread(path.stat)).st_size
            answer = await self._plane.call_recording(call_id, chunks(), size=size)
        except (httpx.HTTPError, ProblemError, OSError, KeyError, ValueError) as exc:
            log.warning("call #%d: the recording %s was not uploaded: %s", call_id, path, exc)
            return None
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return str(answer["file"])

    async def tell(self, call: CallRecord, key: str, /, **extra: Any) -> None:
        await self._ask(self._plane.call_message(call.id, key, extra))

    async def show_keypad(self, call: CallRecord) -> None:
        await self._ask(self._plane.call_keypad(call.id))

    async def claim_outgoing(self, account_ids: list[int]) -> list[CallRecord]:
        claimed = await self._ask(self._plane.calls_claimed(account_ids))
        return [record_from_wire(d) for d in claimed]

    async def take_commands(self, call_ids: list[int]) -> list[Command]:
        if not call_ids:
            return []
        answer = await self._ask(self._plane.call_commands(call_ids))
        return [Command(c["id"], c["call_id"], CommandKind(c["kind"]), c["arg"]) for c in answer]

    async def end_orphans(self) -> int:
        return int((await self._ask(self._plane.calls_orphaned()))["ended"])
