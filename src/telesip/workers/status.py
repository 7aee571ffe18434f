"""ReportBatch: the one buffer between the registration manager and storage.

The manager calls its status sink synchronously, once per change of an account's
registration (workers/registrar.py); the worker's sink puts the `RegistrationReport` here,
and its flusher takes a batch every flush interval (or a few milliseconds after a report
that someone is waiting for) and writes it in one transaction (`report_many`), or sends it
with the next sync to the control plane (a remote worker).

Invariants:
- One report per account: a newer one replaces the older in place, so a batch holds each
  account once, in the order the accounts first changed, with its latest report (what
  `report_many` stores anyway). The buffer never holds more reports than there are accounts,
  however long storage stays away: that is its back-pressure.
- Nothing here awaits on the registration path: `put` is a dict store.
- A batch that could not be written is put back under anything newer (`put_back`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable

from telesip.domain.model import RegistrationReport

__all__ = ["ReportBatch", "StatusSink"]

StatusSink = Callable[[RegistrationReport], None]


class ReportBatch:
    def __init__(self) -> None:
        self._latest: dict[int, RegistrationReport] = {}
        self._soon = asyncio.Event()  # a report someone waits for: write within milliseconds

    def __len__(self) -> int:
        return len(self._latest)

    def put(self, report: RegistrationReport) -> None:
        self._latest[report.account_id] = report

    def flush_soon(self) -> None:
        self._soon.set()

    def take(self) -> list[RegistrationReport]:
        """Everything buffered, oldest change first; the buffer is empty after."""
        batch = list(self._latest.values())
        self._latest = {}
        return batch

    def put_back(self, batch: Iterable[RegistrationReport]) -> None:
        """A taken batch that was not written: first again, except where a newer report
        came meanwhile."""
        older = {r.account_id: r for r in batch}
        older.update(self._latest)
        self._latest = older

    def forget(self, account_ids: Collection[int]) -> None:
        for account_id in account_ids:
            self._latest.pop(account_id, None)

    def clear(self) -> None:
        self._latest.clear()

    async def due(self, interval: float, gather: float = 0.02) -> None:
        """Return after ``interval`` seconds, or ``gather`` seconds after `flush_soon` (so
        the reports of one burst go in one batch), whichever comes first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await self._soon.wait()
                await asyncio.sleep(gather)
        self._soon.clear()
