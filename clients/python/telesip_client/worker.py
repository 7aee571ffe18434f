"""The remote workers' control plane (``docs/worker-openapi.json``) for Python: what ``telesip
worker --control-url`` speaks, one method per operation, named after its operationId without
the ``worker`` prefix, taking and returning the document's own types (``models``).

A worker authenticates with its credential (``tsw_...``) and names itself in each body; the
instance ``join`` returns is remembered and sent with every later request, so a call before
``join`` is a programming error (``RuntimeError``). A refused credential raises ``Refused``; a
control plane that does not answer raises httpx's ``TransportError``.

    async with WorkerClient("https://telesip.example.com", "tsw_...", name="office") as plane:
        await plane.join([])
        answer = await plane.sync(stats={"held": 0})
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable
from typing import Any

import httpx

from .base import BaseClient
from .models import (
    WORKER_OPERATIONS,
    Answered,
    CallAnsweredIn,
    CallEndedIn,
    CallerIn,
    CallMessageIn,
    CallStartIn,
    CheckIn,
    ClaimIn,
    CommandOut,
    CommandsIn,
    EndReason,
    JoinIn,
    JoinOut,
    Orphans,
    RecordingOut,
    ReportIn,
    SyncIn,
    SyncOut,
    WorkerCall,
    WorkerIn,
)

__all__ = ["WorkerClient"]

PREFIX = "/api/v1/worker"


class WorkerClient(BaseClient):
    operations = WORKER_OPERATIONS

    def __init__(
        self,
        base_url: str,
        credential: str,
        *,
        name: str,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.25,
    ) -> None:
        super().__init__(
            base_url,
            credential,
            verify=verify,
            transport=transport,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
        self.name = name
        #: this run of the worker, from ``join`` (None before it)
        self.instance: str | None = None

    @property
    def url(self) -> str:
        """The control plane's root, as messages name it."""
        return self.base_url + PREFIX

    def _me(self) -> WorkerIn:
        if self.instance is None:
            raise RuntimeError("join the control plane first")
        return {"name": self.name, "instance": self.instance}

    async def join(self, addresses: list[str]) -> JoinOut:
        """Start a new instance (whatever an earlier one held is released)."""
        body: JoinIn = {"name": self.name, "addresses": addresses}
        joined: JoinOut = await self._call("workerJoin", json=body)
        self.instance = joined["instance"]
        return joined

    async def check(self) -> None:
        """Whether the control plane accepts this name and credential; changes nothing."""
        body: CheckIn = {"name": self.name}
        await self._call("workerCheck", json=body)

    async def sync(
        self,
        *,
        stats: dict[str, int],
        reports: list[ReportIn] | None = None,
        addresses: list[str] | None = None,
        callers: list[CallerIn] | None = None,
        callers_gone: list[int] | None = None,
    ) -> SyncOut:
        """The heartbeat: reports and changes up, the accounts to keep registered down.
        ``addresses`` and ``callers`` are sent only when given (when they changed)."""
        me = self._me()
        body: SyncIn = {
            "name": me["name"],
            "instance": me["instance"],
            "stats": stats,
            "reports": reports or [],
        }
        if addresses is not None:
            body["addresses"] = addresses
        if callers is not None:
            body["callers"] = callers
            body["callers_gone"] = callers_gone or []
        answer: SyncOut = await self._call("workerSync", json=body)
        return answer

    async def leave(self) -> None:
        """Graceful stop: the leases go back at once."""
        await self._call("workerLeave", json=self._me())

    async def call_started(self, account_id: int, number: str) -> WorkerCall:
        body: CallStartIn = {**self._me(), "account_id": account_id, "number": number}
        call: WorkerCall = await self._call("workerCallStarted", json=body)
        return call

    async def calls_claimed(self, account_ids: list[int]) -> list[WorkerCall]:
        body: ClaimIn = {**self._me(), "account_ids": account_ids}
        calls: list[WorkerCall] = await self._call("workerCallsClaimed", json=body)
        return calls

    async def call_commands(self, call_ids: list[int]) -> list[CommandOut]:
        body: CommandsIn = {**self._me(), "call_ids": call_ids}
        commands: list[CommandOut] = await self._call("workerCallCommands", json=body)
        return commands

    async def calls_orphaned(self) -> Orphans:
        ended: Orphans = await self._call("workerCallsOrphaned", json=self._me())
        return ended

    async def call_answered(self, call_id: int, caller: str | None) -> Answered:
        body: CallAnsweredIn = {**self._me(), "caller": caller}
        answered: Answered = await self._call(
            "workerCallAnswered", path={"call_id": call_id}, json=body
        )
        return answered

    async def call_ended(
        self,
        call_id: int,
        reason: EndReason,
        *,
        sip_status: int | None = None,
        tell: str | None = None,
        recording: str | None = None,
    ) -> WorkerCall | None:
        body: CallEndedIn = {
            **self._me(),
            "reason": reason,
            "sip_status": sip_status,
            "tell": tell,
            "recording": recording,
        }
        ended: WorkerCall | None = await self._call(
            "workerCallEnded", path={"call_id": call_id}, json=body
        )
        return ended

    async def call_recording(
        self, call_id: int, content: bytes | AsyncIterable[bytes], *, size: int | None = None
    ) -> RecordingOut:
        """A call's WAV file, streamed when ``content`` is an iterable (give its ``size``)."""
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        stored: RecordingOut = await self._call(
            "workerCallRecording",
            path={"call_id": call_id},
            params=dict(self._me()),
            content=content,
            headers=headers,
        )
        return stored

    async def call_message(self, call_id: int, key: str, params: dict[str, Any]) -> None:
        """Ask the bot to send the call's person a message of its catalog."""
        body: CallMessageIn = {**self._me(), "key": key, "params": params}
        await self._call("workerCallMessage", path={"call_id": call_id}, json=body)

    async def call_keypad(self, call_id: int) -> None:
        await self._call("workerCallKeypad", path={"call_id": call_id}, json=self._me())
