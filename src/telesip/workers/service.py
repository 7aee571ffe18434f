"""The worker: keeps the accounts it leases registered, as `telesip worker` or inside
`telesip run`.

One loop, woken every second (or at once by an in-process account event): apply account
changes, heartbeat, claim free accounts up to a fair share and hand over the excess, check
that every account it refreshes is still leased to it, and write registration reports in
batches. While the database does not answer, the worker keeps refreshing what it holds (nobody
can take a lease over while the database is away for everyone); when it answers again, the
lease rows say who holds what: what is still ours stays, what another worker took is let go
once its taker has registered it, and the worker claims nothing for a TTL, so that the others'
heartbeats come back before anyone looks stale (docs/workers.md, "The database goes away").

No gap on the way (docs/workers.md): an account handed over (rebalancing, graceful stop) stays
registered by its giver until the new holder reports it registered (``leases.registered_at``)
or the lease TTL has passed; a worker that finds itself paused past the TTL (the monotonic
clock jumped between two turns) checks its leases and claims at once; a worker below its share
claims at every poll while hand-overs are likely (a death, a newcomer, a lost lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import Metric
from sqlalchemy import event

from telesip import extras
from telesip.calls.store import DbCallStore
from telesip.calls.telegram.pool import CallerPool
from telesip.calls.telegram.runtime import open_callers
from telesip.config import Settings
from telesip.domain import errors, events
from telesip.domain.model import RegistrationReport, RegState
from telesip.health import PROBES
from telesip.logs import bind_log_context
from telesip.metrics import DB_RECONNECTS, DB_UNREACHABLE
from telesip.services import fleet, leases, recordings
from telesip.services.dependencies import Dependencies
from telesip.services.registrations import report_many, report_unheld
from telesip.workers.addresses import publisher
from telesip.workers.lines import AccountConfig, to_config
from telesip.workers.observe import worker_metrics
from telesip.workers.registrar import RegistrationManager
from telesip.workers.status import ReportBatch

if TYPE_CHECKING:  # the calls wing loads numpy and ntgcalls: only with telesip[calls]
    from telesip.calls.manager import CallManager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    ttl: float = 10.0
    poll: float = 1.0  # account changes are applied within this
    claim: float = 15.0  # the safety net; deaths, joins and new accounts trigger claims
    reconcile: float = 30.0
    handover_check: float = 0.25  # how often a giver looks whether its taker registered
    grace: float | None = None  # database unreachable: kept for TTL + this; None: the whole outage
    backoff_max: float = 5.0  # database unreachable: longest wait between tries
    flush: float = 0.5
    prune: float = 3600.0  # recordings older than TELESIP_RECORDING_DAYS are deleted this often

    @property
    def heartbeat(self) -> float:
        return self.ttl / 3


class Worker:
    def __init__(
        self,
        deps: Dependencies,
        manager: RegistrationManager,
        *,
        name: str,
        pool: str | None = None,
        addresses: list[str] | None = None,
        publish: Callable[[], list[str]] | None = None,
        timing: Timing | None = None,
        calls: CallManager | None = None,
        recordings: Path | None = None,
        recording_days: int = 30,
    ) -> None:
        self.deps = deps
        self.manager = manager
        self.name = name
        self.pool = pool
        self.addresses = addresses or []
        self.publish = publish  # the firewall entries now (workers/addresses.py)
        self.timing = timing or Timing()
        self.ref: fleet.WorkerRef | None = None
        self.versions: dict[int, AccountConfig] = {}  # what the manager was told
        self._reports = ReportBatch()  # on their way to the database
        self._new: set[int] = set()  # claimed, not yet reported registered: a giver waits
        self._wake = asyncio.Event()
        self._last_ok = self._last_beat = time.monotonic()
        self._failures = 0  # database tries failed in a row
        self._since: datetime | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.calls = calls
        self.recordings = recordings  # DATA_DIR/recordings; None: this worker prunes none
        self.recording_days = recording_days
        self.statements = 0  # database statements this process ran (see run_worker)
        self._alive = 0
        self._handing: dict[int, float] = {}  # handed over -> until when (monotonic) at most
        self._eager_until = 0.0  # claim at every poll until then (hand-overs are likely)
        self._hold_until = 0.0  # back from an outage: claim nothing before the others heartbeat
        self._next_turn = 0.0  # when the loop meant to wake (monotonic): a pause shows late

    # -- what the manager and the bus tell us ---------------------------------------------
    def on_status(self, report: RegistrationReport) -> None:
        """The manager's status sink: on the registration path, so it only buffers."""
        log.debug(
            "registration %s (%s)",
            report.state,
            report.code or report.error or "-",
            extra={"account_id": report.account_id},
        )
        if report.state is RegState.REGISTERED and report.account_id in self._new:
            self._new.discard(report.account_id)
            self._reports.flush_soon()  # its giver keeps a second registration until it reads this
        self._reports.put(report)

    async def on_event(self, event: events.Event) -> None:
        if event.account_id in self.versions or isinstance(event, events.AccountCreated):
            self._wake.set()

    # -- what /readyz and /metrics read (telesip.health) --------------------------------------
    async def ready(self) -> str | None:
        if self.ref is None:
            return "not joined yet"
        if time.monotonic() - self._last_ok > self.timing.ttl:
            return "the database has not answered for longer than the lease TTL"
        return None

    def metrics(self) -> Iterable[Metric]:
        return worker_metrics(self.name, self.manager, list(self.versions), self.calls)

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        with PROBES.part(f"worker {self.name}", ready=self.ready, collect=self.metrics):
            await self._run()

    async def _run(self) -> None:
        self.ref = await fleet.join(self.deps, self.name, pool=self.pool, addresses=self.addresses)
        self._since = self.deps.clock.now()
        log.info("worker %s joined (instance %s)", self.name, self.ref.instance)
        flusher = asyncio.create_task(self._flush_forever(), name="worker-flush")
        if self.calls is not None:
            store = self.calls.store = DbCallStore(self.deps, self.ref.id)
            if ended := await store.end_orphans():
                log.info("worker %s: ended %d calls its previous run left open", self.name, ended)
            self._spawn(self._calls_forever())
        if self.recordings is not None:
            self._spawn(self._prune_forever())
        # the first claim waits one heartbeat, so workers started together see each other and
        # split the accounts at once instead of one taking most and handing them over after
        start = time.monotonic()
        due = {
            "heartbeat": 0.0,
            "claim": start + self.timing.heartbeat,
            "reconcile": start + self.timing.reconcile,
        }
        self._next_turn = start
        self._eager_until = start + 2 * self.timing.ttl  # the others hand a share over to us
        try:
            while True:
                now = time.monotonic()
                if now - self._next_turn > self.timing.ttl:
                    self._woke(now, due)
                try:
                    async with asyncio.timeout(self.timing.ttl):  # a hung connection is a failure
                        await self._step(now, due)
                        await self._settle_handovers(now, due)
                    self._back_online(now, due)
                    wait = self.timing.handover_check if self._handing else self.timing.poll
                except (errors.StorageUnavailable, OSError, TimeoutError) as exc:
                    wait = self._offline(now, exc)
                self._next_turn = time.monotonic() + wait
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher

    async def _step(self, now: float, due: dict[str, float]) -> None:
        """One turn. In steady state it costs two small queries (changes, live workers) per
        poll and three per heartbeat; claims run only when something says there is work."""
        assert self.ref is not None
        if await self._apply_changes():
            due["claim"] = min(due["claim"], now + 0.2)  # new or re-enabled accounts
        if self._alive and await leases.live_workers(self.deps, ttl=self.timing.ttl) != self._alive:
            due["claim"] = min(due["claim"], now)  # a death or a newcomer: shares change
            due["heartbeat"] = now  # learn the new count with the heartbeat
        if now >= due["heartbeat"]:
            addresses = self.publish() if self.publish is not None else None
            changed = addresses if addresses is not None and addresses != self.addresses else None
            ok, alive, held = await leases.heartbeat_and_look(
                self.deps, self.ref, self._stats(), ttl=self.timing.ttl, addresses=changed
            )
            if changed is not None:
                self.addresses = changed
            if not ok:
                self._drop_all("the worker was revoked or another process took its name")
                raise errors.ConfigError(reason=f"worker {self.name!r} lost its registration")
            self._last_beat = now
            if alive != self._alive:  # a worker died or joined: the shares change
                if self._alive:  # (the first look only learns the number); hand-overs follow
                    due["claim"] = min(due["claim"], now)
                    self._eager_until = now + self.timing.ttl
                self._alive = alive
            if held != len(self.versions):
                await self._reconcile()  # a lease was lost (taken over) or went with its account
                self._eager_until = now + self.timing.ttl
                due["claim"] = min(due["claim"], now)
            due["heartbeat"] = now + self.timing.heartbeat
        if now >= due["claim"] and now >= self._hold_until and not self._failures:
            plan = await leases.claim(self.deps, self.ref, ttl=self.timing.ttl)
            self._forget_reports({a.id for a in plan.claimed})
            for account in plan.claimed:
                if self._handing.pop(account.id, None) is None:  # else: taken back, registered
                    self._new.add(account.id)
                self._apply(to_config(account))
            if plan.release:
                await self._hand_over(plan.release, now)
            if plan.claimed or plan.release:
                due["claim"] = now + 0.2
            elif plan.short and now < self._eager_until:
                due["claim"] = now + self.timing.poll  # the others are handing some over
            else:
                due["claim"] = now + self.timing.claim
        if now >= due["reconcile"]:
            await self._reconcile()
            due["reconcile"] = now + self.timing.reconcile

    def _offline(self, now: float, exc: BaseException) -> float:
        """The database did not answer: keep refreshing what we hold (for the whole outage, or
        with a ``grace`` for the TTL since our last heartbeat plus the grace, then stop
        everything). Returns how long to wait before the next try: capped exponential backoff
        with full jitter, but never past the moment to stop."""
        self._failures += 1
        DB_UNREACHABLE.labels(via="worker").inc()
        grace = self.timing.grace
        fence_at = float("inf") if grace is None else self._last_beat + self.timing.ttl + grace
        if self._failures == 1:
            full = isinstance(exc, errors.StorageFull)  # writes refused: no lease renewed
            log.warning(
                "worker %s: %s (%s); keeping %d registrations %s, retrying",
                self.name,
                "the database's disk is full" if full else "the database is unreachable",
                _cause(exc),
                len(self.versions),
                "until it answers" if grace is None else f"for up to {fence_at - now:.0f} s",
            )
        if now >= fence_at and (self.versions or self._handing):
            self._drop_all(
                f"the database was unreachable for longer than the lease TTL + {grace:.0f} s"
            )
            for account_id in list(self._handing):
                self._handing.pop(account_id)
                self.manager.remove(account_id)
        longest = min(self.timing.backoff_max, self.timing.heartbeat)  # back within a heartbeat
        backoff = min(self.timing.poll * 2 ** (self._failures - 1), longest)
        wait = random.uniform(backoff / 2, backoff)
        return max(0.05, min(wait, fence_at - now)) if now < fence_at else wait

    def _back_online(self, now: float, due: dict[str, float]) -> None:
        """The database answers again. The others' heartbeats may look stale only because it
        was away for them too: claim nothing for a TTL (they are back within a heartbeat),
        then claim at every poll for a TTL (a partition's takers hand a share back)."""
        self._last_ok = now
        if self._failures:
            self._hold_until = now + self.timing.ttl
            due["claim"] = min(due["claim"], self._hold_until)
            self._eager_until = self._hold_until + self.timing.ttl
            log.info(
                "worker %s: the database answers again after %d failed tries",
                self.name,
                self._failures,
            )
            DB_RECONNECTS.labels(via="worker").inc()
            self._failures = 0

    async def _apply_changes(self) -> bool:
        """Apply changed and deleted accounts; True when a changed one is not ours (it may be
        new, or enabled again, and free to claim)."""
        assert self._since is not None and self.ref is not None
        started = self.deps.clock.now()
        # look back a little: a transaction that began earlier may commit after our last look
        changed, deleted = await leases.changes_since(self.deps, self._since - timedelta(seconds=2))
        self._since = started
        for account_id in deleted:
            self._remove(account_id)
        mine = {a for a in changed if a in self.versions}
        if mine and (moved := await leases.drop_ineligible(self.deps, self.ref, list(mine))):
            # pinned elsewhere or un-pinned: registered here until its new holder has it, at
            # most a couple of seconds (it may have none)
            self._let_go(moved, time.monotonic() + 2 * self.timing.poll + 1)
            mine -= set(moved)
        if mine:
            for account in await leases.accounts_by_id(self.deps, mine):
                if not account.enabled:
                    self._remove(account.id)
                    await leases.release(self.deps, self.ref, [account.id])
                else:
                    self._apply(to_config(account))
        return bool(changed - mine - deleted)

    async def _reconcile(self) -> None:
        """Let go of what is no longer leased here (taken over after a pause or a partition:
        our contact stays until the taker has registered it, as in a hand-over); start what is
        leased but not registered (after the database came back, the leases this instance
        still holds are live again)."""
        assert self.ref is not None
        leased = await leases.held(self.deps, self.ref)
        if missing := leased - set(self.versions) - set(self._handing):
            for account in await leases.accounts_by_id(self.deps, missing):
                if account.enabled:
                    self._apply(to_config(account))
        if lost := [a for a in self.versions if a not in leased]:
            log.info(
                "worker %s: %d accounts are no longer leased here (#%d first); stopping their "
                "registrations once their new holder has them",
                self.name,
                len(lost),
                lost[0],
            )
            self._let_go(lost, time.monotonic() + self.timing.ttl)

    def _apply(self, cfg: AccountConfig) -> None:
        if self.versions.get(cfg.account_id) != cfg:
            self.versions[cfg.account_id] = cfg
            self.manager.apply(cfg)

    def _remove(self, account_id: int) -> None:
        self._new.discard(account_id)
        if self.versions.pop(account_id, None) is not None:
            self.manager.remove(account_id)  # un-REGISTERs only this worker's own contact

    def _forget_reports(self, account_ids: set[int]) -> None:
        """Reports not yet written about accounts claimed now say nothing of the new lease
        (a stale "registered" would tell a giver to un-REGISTER before we have registered)."""
        if account_ids and self._reports:
            self._reports.forget(account_ids)

    def _drop_all(self, why: str) -> None:
        if self.versions:
            log.error(
                "worker %s: %s; stopping %d registrations", self.name, why, len(self.versions)
            )
        for account_id in list(self.versions):
            self._remove(account_id)

    def _woke(self, now: float, due: dict[str, float]) -> None:
        """The monotonic clock jumped past the TTL between two turns (the process was paused,
        the host frozen): others may have taken our accounts. Heartbeat and look at once (a lost
        lease stops its refreshes), then claim at once and at every poll for a while."""
        log.warning(
            "worker %s: paused for %.1f s (lease TTL %.1f s); checking its leases",
            self.name,
            now - self._next_turn,
            self.timing.ttl,
        )
        due["heartbeat"] = due["claim"] = now
        self._eager_until = now + self.timing.ttl

    async def _hand_over(self, account_ids: list[int], now: float) -> None:
        """Release leases above the fair share; keep registering them until their new holder
        reports them registered (``_settle_handovers``), so no account is ever without a
        contact while its new worker takes it."""
        assert self.ref is not None
        await leases.release(self.deps, self.ref, account_ids)
        self._let_go(account_ids, now + 3 * self.timing.ttl)

    def _let_go(self, account_ids: list[int], until: float) -> None:
        for account_id in account_ids:
            self._new.discard(account_id)
            if self.versions.pop(account_id, None) is not None:
                self._handing[account_id] = until

    async def _settle_handovers(self, now: float, due: dict[str, float]) -> None:
        """Un-REGISTER our own contact of each handed-over account once its new holder has
        registered it (or held it for the TTL without managing to), or when no one took it
        in time and it is no longer ours to hold (pinned elsewhere, disabled). One that no live
        worker holds and that we may hold stays registered here and is claimed back: its
        would-be taker died, or froze inside its claim with the account's row locked, where
        no one else can claim it."""
        if not self._handing:
            return
        assert self.ref is not None
        done = await leases.taken_over(
            self.deps, self.ref, list(self._handing), ttl=self.timing.ttl
        )
        late = {a for a, until in self._handing.items() if now >= until} - done
        if late and (
            keep := await leases.unheld(
                self.deps, sorted(late), ttl=self.timing.ttl, eligible=self.ref
            )
        ):
            for account_id in keep:
                self._handing[account_id] = now + self.timing.ttl
            due["claim"] = min(due["claim"], now)
            late.difference_update(keep)
        for account_id in done | late:
            del self._handing[account_id]
            if account_id not in self.versions:
                self.manager.remove(account_id)
        if late:
            await report_unheld(self.deps, sorted(late), ttl=self.timing.ttl)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _calls_forever(self) -> None:
        """Outgoing calls for our lines and keypad presses: every 0.2 s while calls run."""
        assert self.calls is not None
        while True:
            try:
                await self.calls.poll(list(self.versions))
            except (errors.StorageUnavailable, OSError) as exc:
                log.warning("worker %s: calls poll failed: %s", self.name, exc)
            await asyncio.sleep(0.2 if self.calls.active else self.timing.poll)

    async def _prune_forever(self) -> None:
        """Delete the recordings of calls that ended more than TELESIP_RECORDING_DAYS ago: at
        start, then every hour (several workers may do it at once: deleting twice is no harm)."""
        assert self.recordings is not None
        while True:
            try:
                if gone := await recordings.prune(self.deps, self.recordings, self.recording_days):
                    log.info("worker %s: deleted %d old recordings", self.name, gone)
            except (errors.TelesipError, OSError) as exc:
                log.warning("worker %s: pruning recordings failed: %s", self.name, exc)
            await asyncio.sleep(self.timing.prune)

    async def _flush_forever(self) -> None:
        """Reports every ``flush`` seconds; a newly claimed account's first "registered" within
        a few milliseconds (batched with the others of its claim)."""
        while True:
            await self._reports.due(self.timing.flush)
            await self.flush()

    async def flush(self) -> None:
        if not self._reports:
            return
        batch = self._reports.take()
        try:
            await report_many(self.deps, batch, self.ref)
        except errors.TelesipError as exc:
            log.warning("worker %s: could not store %d reports: %s", self.name, len(batch), exc)
            self._reports.put_back(batch)

    def count_statement(self, *_: object) -> None:
        self.statements += 1

    def _stats(self) -> dict[str, int]:
        counts: dict[str, int] = {"held": len(self.versions), "db_statements": self.statements}
        for account_id in self.versions:
            state = self.manager.status(account_id).state
            counts[state] = counts.get(state, 0) + 1
        return counts

    async def stop(self) -> None:
        """Graceful stop: end the calls, hand the leases back, wait (at most the lease TTL)
        until the other workers report the accounts they took registered, then un-REGISTER
        everything."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # their database work settles
        if self.calls is not None:
            await self.calls.close()
        await self.flush()
        ours = set(self.versions) | set(self._handing)
        if self.ref is not None:
            try:
                handed = await leases.leave(self.deps, self.ref)
                ours -= await self._wait_taken_over(handed)
            except (errors.StorageUnavailable, OSError) as exc:  # a stop must still end
                log.warning(
                    "worker %s: could not hand its leases back (%s); they expire in %s s",
                    self.name,
                    exc,
                    self.timing.ttl,
                )
        self._reports.clear()
        await self.manager.stop()
        # the accounts nobody else registered show that they are no longer registered
        final = [r for r in self._reports.take() if r.account_id in ours]
        try:
            await report_many(self.deps, final, None)
        except errors.TelesipError as exc:
            log.warning("worker %s: could not store %d reports: %s", self.name, len(final), exc)

    async def _wait_taken_over(self, handed: list[int]) -> set[int]:
        """The stop's hand-over: while another worker lives, wait until it has registered
        what it may take from us, at most the lease TTL; returns what it registered."""
        assert self.ref is not None
        pending = set(handed) | set(self._handing)
        self._handing.clear()
        if not pending or not await leases.live_workers(self.deps, ttl=self.timing.ttl):
            return set()
        everything = set(pending)
        began = time.monotonic()
        deadline = began + self.timing.ttl
        while pending and time.monotonic() < deadline:
            pending -= await leases.taken_over(
                self.deps, self.ref, list(pending), ttl=self.timing.ttl
            )
            if pending:
                await asyncio.sleep(self.timing.handover_check)
        if pending:
            log.warning(
                "worker %s: %d accounts not registered elsewhere after %.0f s; stopping anyway",
                self.name,
                len(pending),
                self.timing.ttl,
            )
        log.info(
            "worker %s: %d accounts registered by other workers in %.1f s",
            self.name,
            len(everything) - len(pending),
            time.monotonic() - began,
        )
        return everything - pending


def _bind(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)


def call_manager(
    settings: Settings,
    manager: RegistrationManager,
    callers: CallerPool,
    host: str,
    advertise: str | None,
) -> CallManager:
    """The calls of a worker's lines (telesip[calls]: imports the calls wing)."""
    from telesip.calls.manager import CallManager
    from telesip.calls.rtp_ports import PortPool

    return CallManager(
        manager,
        callers,
        ports=PortPool(settings.rtp_ports),
        media_bind=host,
        media_advertise=advertise,
        max_calls=settings.max_calls,
        ring_timeout=settings.ring_timeout_seconds,
        media_timeout=settings.rtp_timeout_seconds,
        recordings=settings.data_dir / "recordings",  # a remote worker uploads each one
    )


async def run_worker(
    deps: Dependencies, settings: Settings, callers: CallerPool | None = None
) -> None:
    """The worker part of `telesip run` / `telesip worker`; ``callers`` are the Telegram
    caller accounts its calls ring people from. Without telesip[calls] it keeps the
    registrations only (one log line says calls are off)."""
    bind_log_context(worker=settings.worker_name or socket.gethostname())
    with_calls = extras.log_calls_off(f"worker {settings.worker_name or socket.gethostname()}")
    if callers is None and with_calls:  # this process's own caller accounts, while it runs
        async with open_callers(settings, deps) as pool:
            await run_worker(deps, settings, pool)
        return
    host, port = _bind(settings.sip_bind)
    advertise = settings.sip_advertise
    worker: Worker | None = None
    manager = RegistrationManager(
        status_sink=lambda report: worker.on_status(report) if worker else None,
        bind_host=host,
        udp_port=port,
        advertise_host=advertise,
        max_pending=500,  # REGISTERs in flight: enough for a takeover, not a storm
    )
    try:
        await manager.start()
    except OSError as exc:
        raise errors.ConfigError(
            reason=f"cannot bind SIP on {settings.sip_bind}: {exc.strerror}; set TELESIP_SIP_BIND"
        ) from None
    local = manager.udp_local
    publish = publisher(manager, host, advertise, local[1] if local else port, settings.rtp_ports)
    calls = (
        call_manager(settings, manager, callers or CallerPool(), host, advertise)
        if with_calls
        else None
    )
    worker = Worker(
        deps,
        manager,
        name=settings.worker_name or socket.gethostname(),
        pool=settings.worker_pool,
        addresses=publish(),
        publish=publish,
        timing=Timing(ttl=settings.lease_ttl_seconds, grace=settings.lease_grace_seconds),
        calls=calls,
        recordings=settings.data_dir / "recordings",
        recording_days=settings.recording_days,
    )
    deps.bus.subscribe(None, worker.on_event)
    event.listen(deps.engine.sync_engine, "before_cursor_execute", worker.count_statement)
    try:
        await worker.run()
    finally:
        await asyncio.shield(worker.stop())


def _cause(exc: BaseException) -> str:
    """What the database driver said, on one line (the error itself says only "unreachable")."""
    inner = exc.__cause__ or exc
    text = str(getattr(inner, "orig", None) or inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0]}" if text else type(inner).__name__
