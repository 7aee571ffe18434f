"""Where a worker's calls are written: the history row, the person's messages, the requests and
keypad presses waiting for it. A worker with database access uses ``DbCallStore`` (the
service layer); a remote worker (``telesip worker --control-url``) uses ``RemoteCallStore``,
the same operations over the control plane, which lets it touch only calls on the lines pinned
to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

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


Post = Callable[[str, dict[str, Any]], Awaitable[Any]]
Upload = Callable[[int, Path], Awaitable[Any]]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_from_wire(d: dict[str, Any]) -> CallRecord:
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
        end_reason=EndReason(d["end_reason"]) if d.get("end_reason") else None,
        sip_status=d.get("sip_status"),
        worker_id=d.get("worker_id"),
        caller=d.get("caller"),
        recording=d.get("recording"),
    )


class RemoteCallStore:
    """The same operations over a remote worker's control plane (``post(path, body)`` adds
    the worker's name, instance and credential). A call's recording is uploaded (``upload``)
    from ``recordings`` before its end is reported, then deleted here: the bot sends it to the
    owner from the service's data directory. An unreachable control plane is
    StorageUnavailable, as an unreachable database is."""

    def __init__(self, post: Post, upload: Upload, recordings: Path | None = None) -> None:
        self._post = post
        self._upload = upload
        self._recordings = recordings

    async def _call(self, path: str, **body: Any) -> Any:
        try:
            return await self._post(f"calls{path}", body)
        except httpx.HTTPError as exc:
            raise errors.StorageUnavailable(
                f"the control plane is not reachable: {type(exc).__name__}: {exc}"
            ) from exc

    async def start_incoming(self, account_id: int, number: str) -> CallRecord:
        return record_from_wire(await self._call("", account_id=account_id, number=number))

    async def mark_answered(self, call_id: int, caller: str | None) -> bool:
        return bool((await self._call(f"/{call_id}/answered", caller=caller))["ok"])

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
        answer = await self._call(
            f"/{call_id}/ended",
            reason=reason.value,
            sip_status=sip_status,
            tell=tell,
            recording=recording,
        )
        return record_from_wire(answer) if answer else None

    async def _send_recording(self, call_id: int, name: str) -> str | None:
        """Upload the file; its name on the service, or None (the file stays here, logged)."""
        if self._recordings is None:
            return None
        path = self._recordings / Path(name).name
        try:
            answer = await self._upload(call_id, path)
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            log.warning("call #%d: the recording %s was not uploaded: %s", call_id, path, exc)
            return None
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return str(answer["file"])

    async def tell(self, call: CallRecord, key: str, /, **extra: Any) -> None:
        await self._call(f"/{call.id}/messages", key=key, params=extra)

    async def show_keypad(self, call: CallRecord) -> None:
        await self._call(f"/{call.id}/keypad")

    async def claim_outgoing(self, account_ids: list[int]) -> list[CallRecord]:
        return [record_from_wire(d) for d in await self._call("/claim", account_ids=account_ids)]

    async def take_commands(self, call_ids: list[int]) -> list[Command]:
        if not call_ids:
            return []
        answer = await self._call("/commands", call_ids=call_ids)
        return [Command(c["id"], c["call_id"], CommandKind(c["kind"]), c["arg"]) for c in answer]

    async def end_orphans(self) -> int:
        return int((await self._call("/orphans"))["ended"])
