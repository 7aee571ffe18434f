"""RegistrationManager: keeps every applied account registered, on one timer wheel and one task.

`apply(cfg)` adds or updates an account, `remove(account_id)` un-REGISTERs and forgets it;
both return at once and take effect on the next turn of the loop. Each registration is a
sans-I/O `telesip.sip.Registration`; this module only moves its bytes through the shared
transports, keeps their timers (in buckets of `_TICK`), starts at most `max_pending` initial
registrations at a time, fails over between DNS targets, and reports every status change to
`status_sink`, synchronously and in order. The sink must not block: the worker's puts the report
in its `ReportBatch` (workers/status.py), the one buffer on the way to storage; a sink that
raises is logged and counted in `stats.sink_errors`, and SIP carries on.

The SIP core reports a `telesip.sip.RegistrationStatus` (its own `BindingState`, times on the
monotonic clock); `_on_status` translates it, once per change, into the account core's
`RegistrationReport` (the domain's `RegState`, UTC times), the only status type beyond this
module. A refresh that only moves `registered_until` is not a change: it makes no report and
allocates nothing (`registered_until()` reads it from the registration when asked).
Anything malformed that arrives is dropped and counted in `stats`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from telesip.domain.model import RegistrationReport, RegState
from telesip.sip import (
    BindingState,
    Challenge,
    Registration,
    RegistrationPolicy,
    RegistrationStatus,
    Response,
)

from .dns import Locator, LookupFailed
from .lines import AccountConfig
from .stats import ManagerStats
from .status import StatusSink
from .transport import Addr, Target
from .wire import CallHandler, Wire

__all__ = ["AccountConfig", "ManagerStats", "RegistrationManager"]

log = logging.getLogger(__name__)
_TICK = 0.005  # timers closer than this to the next wake-up wait for it (seconds)
# Refreshes are due on multiples of this (seconds, rounded up: at most this late, against the
# seconds of slack a binding has): those due in one step share one wake-up of the timer task
# and go out together, instead of one wake-up (and one answer's) each.
_REFRESH_GRID = 0.25
# Compiled (telesip.native), `BindingState.X` is a C static; an enum of a module that is not
# compiled (the domain's) is an attribute lookup on its class each time: the hot one is kept.
_REGISTERED: Final = RegState.REGISTERED
# The one translation of the SIP core's vocabulary into the account core's (same spelling):
# every BindingState becomes one of the domain's WORKER_STATES (tests/sip/test_manager.py).
_REPORTED: dict[BindingState, RegState] = {b: RegState(b.value) for b in BindingState}


@dataclass(eq=False, slots=True, init=False)
class _Slot:
    """One Registration and where its requests go."""

    account_id: int
    reg: Registration
    targets: list[Target]
    idx: int
    retiring: bool
    unregistering: bool  # its un-REGISTER is out (counts against max_pending)
    busy: bool  # a request of it is in flight (counted in the manager's _busy)
    waiting: bool  # in the manager's _waiting: its refresh or retry waits for room
    lapsed: float | None  # the registered_until already reported as run out

    # written out: compiled (telesip.native), a written __init__ is a C call, the one
    # dataclasses generates runs in the interpreter (one per registration started)
    def __init__(
        self, account_id: int, reg: Registration, targets: list[Target], idx: int = 0
    ) -> None:
        self.account_id = account_id
        self.reg = reg
        self.targets = targets
        self.idx = idx
        self.retiring = self.unregistering = self.busy = self.waiting = False
        self.lapsed = None

    @property
    def target(self) -> Target:
        return self.targets[self.idx]


@dataclass(eq=False, slots=True)
class _Account:
    cfg: AccountConfig
    slot: _Slot | None = None
    status: RegistrationReport | None = None  # the last report made
    activating: bool = False
    pending: bool = False  # counts against max_pending until the first outcome
    failures: int = 0
    gen: int = 0


@dataclass(frozen=True, slots=True)
class _Activate:
    account_id: int
    gen: int


class RegistrationManager:
    def __init__(
        self,
        *,
        status_sink: StatusSink | None = None,
        bind_host: str = "0.0.0.0",
        udp_port: int = 0,
        advertise_host: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        locator: Locator | None = None,
        policy: RegistrationPolicy | None = None,
        rng: random.Random | None = None,
        max_pending: int = 200,
        keepalive_interval: float = 30.0,
        user_agent: str = "telesip",
        share_challenges: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Last digest challenge seen per (target, Request-URI): the protection space of RFC 7616
        # §3.6. A new account there sends credentials with its first REGISTER (one round trip
        # instead of two); a server that wants its own nonce answers 401 and we follow it.
        self._share = share_challenges
        self._challenges: dict[tuple[Target, str], Challenge] = {}
        self._locator = locator or Locator()
        self._policy = policy or RegistrationPolicy()
        # tags, branches, Call-IDs need uniqueness, not secrecy: a PRNG seeded from os.urandom
        self._rng = rng or random.Random()
        self._max_pending = max_pending
        self._keepalive = keepalive_interval
        self._ua = user_agent
        self._clock = clock
        self._wall_offset = time.time() - clock()  # UTC seconds minus the clock's
        self.stats = ManagerStats()
        self._accounts: dict[int, _Account] = {}
        self._by_call: dict[str, _Slot] = {}
        self._queue: deque[int] = deque()
        self._retiring: deque[_Slot] = deque()
        # account id -> its registrations still being un-REGISTERed. A new registration for the
        # account waits for them: an un-REGISTER of the same Contact arriving after the new
        # REGISTER would remove the new binding (disable + enable, server change).
        self._retiring_ids: dict[int, int] = {}
        self._unregistering = 0
        self._inflight = 0
        self._answering = False  # inside _on_response, which starts what it makes room for
        self._busy = 0  # registrations with a request in flight (refreshes wait beyond max)
        self._waiting: deque[_Slot] = deque()  # due refreshes and retries waiting for room
        # The timers: a bucket of keys per tick of _TICK seconds (rounded up: a timer fires at
        # most a tick late, never early), a heap of the ticks that have a bucket, and each key's
        # bucket. 50,000 registrations make about a thousand buckets (their refreshes are on a
        # grid): a timer costs a list append and a dict entry, where a heap of timers costs a
        # tuple and a dozen tuple comparisons each way. A rescheduled key stays in its old
        # bucket until that fires, and is skipped there (its `_due` is another bucket).
        self._buckets: dict[int, list[object]] = {}
        self._ticks: list[int] = []
        self._due: dict[object, list[object]] = {}
        self._sleep_until = 0.0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set when no registration is left at all
        self._tasks: set[asyncio.Task[None]] = set()
        self._sink = status_sink
        self._wire = Wire(
            on_response=self._on_response,
            on_other_response=self._on_other_response,
            on_lost=self._on_lost,
            stats=self.stats,
            rng=self._rng,
            user_agent=user_agent,
            tls_context=tls_context,
            bind=(bind_host, udp_port),
            advertise_host=advertise_host,
        )
        self._runner: asyncio.Task[None] | None = None
        self.calls: CallHandler | None = None

    # ------------------------------------------------------------------ public
    @property
    def udp_local(self) -> Addr | None:
        return self._wire.udp_local

    async def start(self) -> None:
        await self._wire.open()
        self._runner = asyncio.create_task(self._run(), name="sip-registrations")
        if self._keepalive > 0:
            self._schedule_key("keepalive", self._clock() + self._keepalive)

    async def stop(self, grace: float = 5.0) -> None:
        """Un-REGISTER every account (waiting at most `grace` seconds), then close everything."""
        for account_id in list(self._accounts):
            self.remove(account_id)
        self._wake.set()
        try:
            async with asyncio.timeout(grace):
                if self._by_call:
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            log.warning("stop: %d un-REGISTERs unanswered after %.1fs", len(self._by_call), grace)
        tasks = [t for t in [self._runner, *self._tasks] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._wire.close()

    def apply(self, cfg: AccountConfig) -> None:
        acc = self._accounts.get(cfg.account_id)
        if acc is None:
            self._accounts[cfg.account_id] = _Account(cfg)
            self._enqueue(cfg.account_id)
            return
        if acc.cfg == cfg:
            return
        old = acc.cfg
        acc.cfg = cfg
        slot = acc.slot
        if slot is not None and old.binding_key() == cfg.binding_key():
            self._handover(acc, slot)  # same binding: new credentials/expires, same Call-ID
            return
        acc.gen += 1
        acc.failures = 0
        if slot is not None:
            acc.slot = None
            self._retire(slot)
        if not acc.activating:
            self._enqueue(cfg.account_id)

    def remove(self, account_id: int) -> None:
        acc = self._accounts.pop(account_id, None)
        if acc is None:
            return
        self._release(acc)
        if acc.slot is not None:
            self._retire(acc.slot)
        else:
            self._publish(RegistrationReport(account_id, RegState.DISABLED))

    def status(self, account_id: int) -> RegistrationReport:
        """The last report on the account: "disabled" for an id not applied."""
        acc = self._accounts.get(account_id)
        if acc is None:
            return RegistrationReport(account_id, RegState.DISABLED)
        return acc.status or RegistrationReport(account_id, RegState.REGISTERING)

    def registered_until(self, account_id: int) -> datetime | None:
        """When the registrar's binding of the account runs out (UTC), as its last answer
        said; None when it holds none that we know of."""
        acc = self._accounts.get(account_id)
        if acc is None or acc.slot is None:
            return None
        return self._wall(acc.slot.reg.status.registered_until)

    def account_ids(self) -> list[int]:
        return list(self._accounts)

    def addresses_seen(self) -> set[str]:
        """Our IP address as each registrar sees it: the Via ``received`` of its last 200, else
        the address we sent from (TELESIP_SIP_ADVERTISE, or the interface that routes to it).
        One pass over the registrations; the worker asks once per heartbeat."""
        return {(reg.seen or reg.local)[0] for reg in (slot.reg for slot in self._by_call.values())}

    # ------------------------------------------------------------ calls' view of the lines
    def attach_calls(self, handler: CallHandler) -> None:
        """Calls (calls/manager.py) get the requests and responses registrations do not own."""
        self.calls = handler
        self._wire.on_request = handler.on_request

    def config(self, account_id: int) -> AccountConfig | None:
        acc = self._accounts.get(account_id)
        return acc.cfg if acc is not None else None

    def line_for(self, user: str, src_host: str) -> int | None:
        """The account an incoming request is for: the Request-URI's user is the login in our
        Contact; among accounts with that login, the one registered where it came from."""
        found = [a for a in self._accounts.values() if a.cfg.login == user]
        for acc in found:
            if acc.slot is not None and acc.slot.target.host == src_host:
                return acc.cfg.account_id
        return found[0].cfg.account_id if found else None

    def route(self, account_id: int) -> tuple[Target, Addr] | None:
        """Where an account's new requests go (its registrar or proxy) and our address as that
        server sees it (the registration's Contact, NAT-rewritten)."""
        acc = self._accounts.get(account_id)
        if acc is None or acc.slot is None:
            return None
        return acc.slot.target, acc.slot.reg.contact

    def send_to(self, target: Target, data: bytes) -> None:
        if not self._wire.send(target, data):
            self._spawn(self._connect_and_send(target, data))

    async def _connect_and_send(self, target: Target, data: bytes) -> None:
        try:
            await self._wire.connect(target)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            log.info("cannot reach %s:%s for a call: %s", target.host, target.port, exc)
            return
        self._wire.send(target, data)

    # ------------------------------------------------------------ the loop
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                self._fire_due_timers()
            except Exception:  # a bug must not kill every registration
                self.stats.errors += 1
                log.exception("registration loop error")
            self._wake.clear()
            now = self._clock()
            delay = (self._ticks[0] * _TICK - now) if self._ticks else 3600.0
            if delay > 0:
                # Timers a tick apart share one wake-up: a refresh or a retransmission may be
                # up to _TICK late, and a burst of due refreshes costs one turn, not one each.
                delay = max(delay, _TICK)
                self._sleep_until = now + delay
                # a timer handle sets the event (no asyncio.timeout: its cancellation and
                # TimeoutError cost more than the turn itself when the loop wakes often)
                handle = loop.call_later(delay, self._wake.set)
                await self._wake.wait()
                handle.cancel()
            else:
                self._sleep_until = now
                await asyncio.sleep(0)

    def _fire_due_timers(self) -> None:
        """Fire every timer that is due (at most 5,000 per turn of the loop), then start what
        waits for room: un-REGISTERs, held-back refreshes and retries, first registrations."""
        now = self._clock()
        budget = 5000  # yield to the event loop now and then under a burst
        ticks, buckets, due = self._ticks, self._buckets, self._due
        while ticks and ticks[0] * _TICK <= now and budget:
            tick = ticks[0]
            bucket = buckets[tick]
            if len(bucket) > budget:  # the rest stays in its bucket for the next turn
                keys = bucket[:budget]
                del bucket[:budget]
            else:
                heapq.heappop(ticks)
                del buckets[tick]  # a key scheduled for this tick from now gets a new bucket
                keys = bucket
            budget -= len(keys)
            for key in keys:
                if due.get(key) is bucket:  # else rescheduled or cancelled since
                    del due[key]
                    self._fire(key, now)
        self._drain_retiring(now)
        self._drain_waiting(now)
        self._drain_queue(now)

    def _fire(self, key: object, now: float) -> None:
        if isinstance(key, _Slot):
            if not key.busy and self._busy >= self._max_pending:
                # A refresh or retry would start a new request: at most max_pending are in
                # flight, like first registrations, so a slow registrar sees a queue, not a
                # retransmission storm. It waits in line until a request ends; its only
                # timer left is its binding's expiry (see _lapse).
                if not key.waiting:
                    key.waiting = True
                    self._waiting.append(key)
                self._lapse(key, now)
                return
            self._timer_step(key, now)
            self._lapse(key, now)
        elif isinstance(key, _Activate):
            acc = self._accounts.get(key.account_id)
            if acc is not None and acc.gen == key.gen and acc.slot is None:
                self._enqueue(key.account_id)
        elif key == "keepalive":
            self._send_keepalives()
            self._schedule_key("keepalive", now + self._keepalive)

    def _timer_step(self, slot: _Slot, now: float) -> None:
        """A registration's timer: a retransmission, or its refresh or retry. Before a new
        request, the last nonce its server gave any of our accounts is adopted (the server's
        nonces expire: one account's 401 renews them for all, instead of one 401 each)."""
        reg = slot.reg
        if self._share and reg.tx is None:
            reg.digest.adopt(self._challenges.get((slot.target, reg.params.registrar_uri)))
        try:  # _advance(slot, reg.handle_timer, now), without the generic call
            reg.handle_timer(now)
            self._flush(slot)
        except Exception:
            self._failed(slot)

    def _schedule_key(self, key: object, when: float | None) -> None:
        if when is None:
            self._due.pop(key, None)
            return
        tick = math.ceil(when / _TICK)
        if tick * _TICK < when:  # rounding: a timer never fires before its time
            tick += 1
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = []
            heapq.heappush(self._ticks, tick)
        elif self._due.get(key) is bucket:
            return
        self._due[key] = bucket
        bucket.append(key)
        at = tick * _TICK
        if at < self._sleep_until:
            self._sleep_until = at
            self._wake.set()

    def _advance(self, slot: _Slot, action: Callable[..., object], *args: object) -> object:
        """Feed one registration's state machine (``action(*args)``: a timer, a response, a
        transport error ...), then act on what it produced (``_flush``); the action's result,
        or None after a bug there, which drops that one registration (it starts over later)
        and never stops the manager."""
        try:
            result = action(*args)
            self._flush(slot)
            return result
        except Exception:
            self._failed(slot)
            return None

    def _failed(self, slot: _Slot) -> None:
        """A bug in a registration's step (called in the `except` block: the traceback is
        logged)."""
        self.stats.errors += 1
        log.exception(
            "registration %s failed", slot.account_id, extra={"account_id": slot.account_id}
        )
        self._recover(slot)

    def _recover(self, slot: _Slot) -> None:
        """After a bug in one registration: drop it, and start the account over later."""
        self._forget(slot)
        acc = self._accounts.get(slot.account_id)
        if acc is not None and acc.slot is slot:
            acc.slot = None
            self._activation_failed(acc, "internal error (logged)", RegState.FAILED)

    def _forget(self, slot: _Slot) -> None:
        """A registration is over (un-REGISTERed, or dropped after a bug)."""
        self._due.pop(slot, None)
        if slot.busy:
            slot.busy = False
            self._busy -= 1
        if slot.unregistering:
            slot.unregistering = False
            self._unregistering -= 1
            if self._retiring and not self._answering:
                self._wake.set()
        if self._by_call.get(slot.reg.call_id) is slot:
            del self._by_call[slot.reg.call_id]
            if not self._by_call:
                self._idle.set()
        if slot.retiring:
            slot.retiring = False
            left = self._retiring_ids[slot.account_id] - 1
            if left:
                self._retiring_ids[slot.account_id] = left
            else:
                del self._retiring_ids[slot.account_id]
                acc = self._accounts.get(slot.account_id)
                if acc is not None and acc.slot is None and not acc.activating:
                    self._enqueue(slot.account_id)  # it was waiting for this un-REGISTER

    def _flush(self, slot: _Slot) -> None:
        """Carry out what a registration asks for after a step: the in-flight count, datagrams
        to send, status changes to publish, its next timer (or forget it when it is done)."""
        reg = slot.reg
        busy = reg.tx is not None
        if busy is not slot.busy:
            slot.busy = busy
            self._busy += 1 if busy else -1
            if not busy and self._waiting and not self._answering:
                self._wake.set()  # room for a waiting refresh (_on_response starts it itself)
        if self._share and reg.challenged and (ch := reg.digest.challenge) is not None:
            self._challenges[(slot.target, reg.params.registrar_uri)] = ch
        out = reg.data_to_send()
        if out:
            target = slot.targets[slot.idx]
            for data in out:
                self._send(slot, target, data)
        for ev in reg.events():
            self._on_status(slot, ev.status)
        if reg.done:
            self._forget(slot)
        elif slot.unregistering or not slot.retiring:  # queued for un-REGISTER: no timers
            when = reg.get_timer()
            if (st := reg.status).state is BindingState.REGISTERED:
                if busy:
                    # a refresh is out: wake at the binding's expiry too, to say it ran out if
                    # no answer came by then (_lapse)
                    until = st.registered_until
                    if until is not None and until != slot.lapsed:
                        when = until if when is None else min(when, until)
                elif when is not None:  # its next refresh: on the grid, with the others due then
                    when = math.ceil(when / _REFRESH_GRID) * _REFRESH_GRID
            self._schedule_key(slot, when)

    # ----------------------------------------------------------- activation
    def _enqueue(self, account_id: int) -> None:
        self._queue.append(account_id)
        self._wake.set()

    def _release(self, acc: _Account) -> None:
        if acc.pending:
            acc.pending = False
            self._inflight -= 1
            if self._queue and not self._answering:
                self._wake.set()  # a start slot is free (_on_response fills it itself)

    def _drain_queue(self, now: float) -> None:
        while self._queue and self._inflight < self._max_pending:
            acc = self._accounts.get(self._queue.popleft())
            if acc is None or acc.slot is not None or acc.activating:
                continue
            if acc.cfg.account_id in self._retiring_ids:
                continue  # its old binding is being removed: start after that (see _forget)
            acc.pending = True
            self._inflight += 1
            self._publish(RegistrationReport(acc.cfg.account_id, RegState.REGISTERING), acc)
            self._activate(acc, now)

    def _activate(self, acc: _Account, now: float) -> None:
        cfg = acc.cfg
        host, port = cfg.server()
        targets = self._locator.cached(host, port, cfg.transport)
        if targets is not None and cfg.transport.lower() == "udp":
            self._start_slot(acc, targets, self._wire.local_for(targets[0]), now)
            return
        acc.activating = True
        self._spawn(self._activate_async(acc, acc.gen))

    async def _activate_async(self, acc: _Account, gen: int) -> None:
        cfg = acc.cfg
        try:
            targets = await self._locator.locate(*cfg.server(), cfg.transport)
            local: Addr | None = None
            error = "no target"
            for i, target in enumerate(targets):
                if target.transport == "UDP":
                    local = self._wire.local_for(target)
                    break
                try:
                    local = (await self._wire.connect(target)).local
                    targets = targets[i:] + targets[:i]
                    break
                except (OSError, TimeoutError, ssl.SSLError) as exc:
                    error = f"connect {target.host}:{target.port}: {type(exc).__name__}"
            if local is None:
                raise LookupFailed(error)
        except LookupFailed as exc:
            acc.activating = False
            if self._accounts.get(cfg.account_id) is acc and acc.gen == gen:
                self._activation_failed(acc, str(exc))
            return
        acc.activating = False
        if self._accounts.get(cfg.account_id) is not acc:
            return
        if acc.gen != gen:
            self._enqueue(cfg.account_id)
            return
        self._start_slot(acc, targets, local, self._clock())

    def _activation_failed(
        self, acc: _Account, error: str, state: RegState = RegState.UNREACHABLE
    ) -> None:
        self._release(acc)
        pol = self._policy
        delay = min(pol.retry_max, pol.retry_base * 2.0 ** min(acc.failures, 30))
        delay *= 0.5 + 0.5 * self._rng.random()
        acc.failures += 1
        now = self._clock()
        self._schedule_key(_Activate(acc.cfg.account_id, acc.gen), now + delay)
        self._publish(
            RegistrationReport(acc.cfg.account_id, state, None, error, self._wall(now + delay))
        )

    def _start_slot(self, acc: _Account, targets: list[Target], local: Addr, now: float) -> None:
        reg = Registration(
            acc.cfg.params(self._ua),
            local=local,
            rng=self._rng,
            reliable=targets[0].transport != "UDP",
            policy=self._policy,
        )
        if self._share:
            reg.digest.set_challenge_hint(
                self._challenges.get((targets[0], reg.params.registrar_uri))
            )
        slot = _Slot(acc.cfg.account_id, reg, targets)
        acc.slot = slot
        self._by_call[reg.call_id] = slot
        self._advance(slot, reg.start, now)

    def _handover(self, acc: _Account, old: _Slot) -> None:
        reg = Registration(
            acc.cfg.params(self._ua),
            local=old.reg.local,
            rng=self._rng,
            reliable=old.reg.reliable,
            policy=self._policy,
            call_id=old.reg.call_id,
            cseq=old.reg.cseq,
        )
        self._due.pop(old, None)
        if old.busy:  # the old registration is dropped here, not through _forget
            old.busy = False
            self._busy -= 1
        slot = _Slot(acc.cfg.account_id, reg, old.targets, old.idx)
        acc.slot = slot
        self._by_call[reg.call_id] = slot
        self._advance(slot, reg.start, self._clock())

    def _retire(self, slot: _Slot) -> None:
        """Queue the un-REGISTER: like starts, at most `max_pending` are in flight at once,
        so removing 10,000 accounts does not drop a burst of 10,000 datagrams on the PBX."""
        slot.retiring = True
        self._retiring_ids[slot.account_id] = self._retiring_ids.get(slot.account_id, 0) + 1
        self._due.pop(slot, None)  # no refresh for an account on its way out
        self._retiring.append(slot)
        self._wake.set()

    def _drain_waiting(self, now: float) -> None:
        while self._waiting and self._busy < self._max_pending:
            slot = self._waiting.popleft()
            slot.waiting = False
            if self._by_call.get(slot.reg.call_id) is slot and not slot.retiring:
                self._timer_step(slot, now)

    def _drain_retiring(self, now: float) -> None:
        while self._retiring and self._unregistering < self._max_pending:
            slot = self._retiring.popleft()
            slot.unregistering = True
            self._unregistering += 1
            self._advance(slot, slot.reg.stop, now)

    # -------------------------------------------------------------- status
    def _lapse(self, slot: _Slot, now: float) -> None:
        """The status says what the registrar knows: a binding whose refresh is unanswered
        (or still waits for room under ``max_pending``) when its expiry passes is no longer
        "registered". Reported once per expiry as unreachable with the reason; the
        registration itself carries on (its answer, its timeout or its retry reports next).
        Before the expiry, a held-back refresh keeps one timer: the expiry."""
        st = slot.reg.status
        until = st.registered_until
        if st.state is not BindingState.REGISTERED or until is None or until == slot.lapsed:
            return
        if until > now:
            if slot.waiting:
                self._schedule_key(slot, until)
            return
        acc = self._accounts.get(slot.account_id)
        if slot.retiring or acc is None or acc.slot is not slot:
            return
        slot.lapsed = until
        why = (
            "registration expired: its refresh waits behind unanswered requests"
            if slot.waiting
            else "registration expired: the registrar has not answered its refresh"
        )
        self._publish(RegistrationReport(slot.account_id, RegState.UNREACHABLE, None, why))

    def _on_status(self, slot: _Slot, st: RegistrationStatus) -> None:
        state = st.state
        if state is BindingState.UNREACHABLE and st.code in (None, 503) and len(slot.targets) > 1:
            slot.idx = (slot.idx + 1) % len(slot.targets)  # fail over (RFC 3263 §4.3)
        acc = self._accounts.get(slot.account_id)
        if slot.retiring:
            if state is BindingState.DISABLED and acc is None:
                self._publish(RegistrationReport(slot.account_id, RegState.DISABLED))
            return
        if acc is None or acc.slot is not slot:
            return
        if state is not BindingState.REGISTERING:
            self._release(acc)
        if state is BindingState.REGISTERED:
            acc.failures = 0
            old = acc.status
            if old is not None and old.state is _REGISTERED and old.code == st.code:
                # a refresh: only registered_until moved (a "registered" status carries no
                # error and no retry time), so nothing to report and nothing allocated
                return
        retry = st.next_retry_at
        self._publish(
            RegistrationReport(
                slot.account_id,
                _REPORTED[state],
                st.code,
                st.last_error,
                None if retry is None else self._wall(retry),
            ),
            acc,
        )

    def _publish(self, report: RegistrationReport, acc: _Account | None = None) -> None:
        """Keep the report as the account's last (`acc`, when the caller has it at hand) and
        hand it to the sink."""
        if acc is None:
            acc = self._accounts.get(report.account_id)
        if acc is not None:
            acc.status = report
        if self._sink is not None:
            try:
                self._sink(report)
            except Exception:
                self.stats.sink_errors += 1
                log.exception("status sink failed for account %s", report.account_id)

    def _wall(self, t: float | None) -> datetime | None:
        """A time on our clock as UTC. One offset, followed when the wall clock is set (moves
        by more than half a second against ours), so one instant always reads the same."""
        if t is None:
            return None
        offset = time.time() - self._clock()
        if abs(offset - self._wall_offset) > 0.5:
            self._wall_offset = offset
        return datetime.fromtimestamp(self._wall_offset + t, UTC)

    # ------------------------------------------------------------ transport
    def _send(self, slot: _Slot, target: Target, data: bytes) -> None:
        self.stats.register_sent += 1
        if not self._wire.send(target, data):
            self._spawn(self._send_later(slot, target, data))

    async def _send_later(self, slot: _Slot, target: Target, data: bytes) -> None:
        try:
            conn = await self._wire.connect(target)
        except (OSError, TimeoutError, ssl.SSLError):
            self._advance(slot, slot.reg.transport_error, self._clock())
            return
        if conn.local != slot.reg.local:  # a new flow: rebuild the request for it
            self._advance(slot, slot.reg.set_local, conn.local, self._clock())
        else:
            self._wire.send(target, data)

    def _on_lost(self, target: Target) -> None:
        """A TCP/TLS connection closed: fail what is in flight, re-REGISTER the rest soon
        (over a new connection) so the registrar can reach us again."""
        now = self._clock()
        for slot in list(self._by_call.values()):
            if slot.target != target or (slot.retiring and not slot.unregistering):
                continue
            reg = slot.reg
            if reg.tx is not None:
                self._advance(slot, reg.transport_error, now)
            else:
                reg.refresh_soon(now + 2.0 * self._rng.random())
                self._schedule_key(slot, reg.get_timer())

    def _send_keepalives(self) -> None:
        self._wire.keepalive(
            {
                slot.target
                for slot in self._by_call.values()
                if slot.target.transport == "UDP"
                and slot.reg.status.state is BindingState.REGISTERED
            }
        )

    def _on_other_response(self, msg: Response) -> None:
        """A response that is not a registration's (parsed whole): a call's, or a stray."""
        if self.calls is None or not self.calls.on_response(msg):
            self.stats.stray += 1

    def _on_response(self, msg: Response) -> bool:
        """A response read as a client reads it (`read_response`); False when its Call-ID is
        none of our registrations' (the wire then parses it whole for `_on_other_response`)."""
        slot = self._by_call.get(msg.headers.get("Call-ID") or "")
        if slot is None:
            return False
        now = self._clock()
        self._answering = True
        try:  # _advance(slot, slot.reg.receive_response, msg, now), without the generic call
            matched = slot.reg.receive_response(msg, now)
            self._flush(slot)
        except Exception:
            matched = False
            self._failed(slot)
        finally:
            self._answering = False
        if not matched:
            self.stats.stray += 1
        else:
            self.stats.register_answered += 1
        # An answer frees a place in flight: start the next account now, in this callback,
        # rather than waking the loop's task for it (one wake-up per answer under a burst).
        most = self._max_pending
        if self._queue and self._inflight < most:
            self._drain_queue(now)
        if self._retiring and self._unregistering < most:
            self._drain_retiring(now)
        if self._waiting and self._busy < most:
            self._drain_waiting(now)
        return True

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
