"""A remote worker: no database, only the control plane over HTTPS.

``telesip worker --control-url https://telesip.example.com --name office-lan`` (credential in
TELESIP_WORKER_CREDENTIAL) joins, then syncs about once a second: its registration reports go
up, the accounts pinned to it (with their passwords) come down and are applied to its own
RegistrationManager. Refused (revoked, unknown, bad credential): it stops every registration
and exits with the control plane's message. Unreachable for longer than the lease TTL: it stops
refreshing, since the control plane will consider it dead. Started while its control plane does
not answer (booted before the service, a deploy in progress), it retries the join with capped
exponential backoff and jitter, naming the URL in the log, as it does after joining.

With caller accounts logged in on its own machine (``telesip telegram login`` there: the
sessions live in its data directory), it bridges the calls of its lines too: a
``CallManager`` whose call store is the control plane (``calls.store.RemoteCallStore``), so
the history, the person's messages, outgoing calls and keypad presses go through the service as
a local worker's go through the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from prometheus_client.core import Metric
from telesip_client import ProblemError, Refused, WorkerClient, refused_certificate
from telesip_client.models import CallerIn, JoinOut, ReportIn

from telesip import extras
from telesip.calls.store import RemoteCallStore, refusal
from telesip.calls.telegram.pool import CallerPool
from telesip.calls.telegram.runtime import open_callers
from telesip.config import Settings
from telesip.domain import errors
from telesip.domain.callers import mask_phone
from telesip.domain.model import RegistrationReport, RegState
from telesip.health import PROBES
from telesip.logs import bind_log_context
from telesip.workers.addresses import publisher
from telesip.workers.lines import AccountConfig
from telesip.workers.observe import worker_metrics
from telesip.workers.registrar import RegistrationManager
from telesip.workers.service import call_manager
from telesip.workers.status import ReportBatch

if TYPE_CHECKING:  # the calls wing loads numpy and ntgcalls: only with telesip[calls]
    from telesip.calls.manager import CallManager

log = logging.getLogger(__name__)


def check_control_url(url: str) -> str:
    """HTTPS, or plain HTTP only to a loopback address (passwords travel over it)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return url.rstrip("/")
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if parts.scheme == "http" and loopback:
        return url.rstrip("/")
    raise errors.ConfigError(reason=f"the control URL must be https:// (got {parts.scheme}://)")


class RemoteWorker:
    def __init__(
        self,
        manager: RegistrationManager,
        control_url: str,
        *,
        name: str,
        credential: str,
        verify: ssl.SSLContext | bool = True,
        addresses: list[str] | None = None,
        publish: Callable[[], list[str]] | None = None,
        calls: CallManager | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.manager = manager
        self._transport = transport  # tests stand a control plane in for the network
        self.calls = calls
        self.base = check_control_url(control_url)
        self.url = self.base + "/api/v1/worker"  # as messages name it
        self.name = name
        self.verify = verify
        self.addresses = addresses or []
        self.publish = publish  # the firewall entries now (workers/addresses.py)
        self._credential = credential
        self.instance: str | None = None
        self.applied: dict[int, AccountConfig] = {}
        self._reports = ReportBatch()  # on their way up with the next sync
        self.ttl = 10.0
        self.poll = 1.0
        self.join_backoff = (1.0, 30.0)  # first and longest wait between join attempts
        self._callers_sent: list[CallerIn] | None = None
        self._last_ok = 0.0

    def on_status(self, report: RegistrationReport) -> None:
        """The manager's status sink: on the registration path, so it only buffers."""
        if report.account_id in self.applied or report.state is RegState.DISABLED:
            self._reports.put(report)

    async def ready(self) -> str | None:
        if self.instance is None:
            return "not joined yet"
        if time.monotonic() - self._last_ok > self.ttl:
            return "the control plane has not answered for longer than the lease TTL"
        return None

    def metrics(self) -> Iterable[Metric]:
        return worker_metrics(self.name, self.manager, list(self.applied), self.calls)

    async def run(self) -> None:
        with PROBES.part(f"worker {self.name}", ready=self.ready, collect=self.metrics):
            await self._run()

    async def _run(self) -> None:
        async with WorkerClient(
            self.base,
            self._credential,
            name=self.name,
            verify=self.verify,
            transport=self._transport,
            timeout=10,
        ) as plane:
            joined = await self._join(plane)
            self.instance = joined["instance"]
            self.ttl, self.poll = float(joined["ttl_seconds"]), float(joined["poll_seconds"])
            log.info("remote worker %s joined %s", self.name, self.url)
            self._last_ok = time.monotonic()
            calls: asyncio.Task[None] | None = None
            try:
                if self.calls is not None:
                    calls = asyncio.create_task(self._calls_forever(self.calls, plane))
                while True:
                    try:
                        await self._sync(plane)
                        self._last_ok = time.monotonic()
                    except Refused as exc:
                        raise refusal(plane, exc) from None
                    except (httpx.HTTPError, ProblemError, ValueError, KeyError) as exc:
                        log.warning("control plane unreachable: %s", exc)
                        if time.monotonic() - self._last_ok > self.ttl:
                            self._apply_all([])
                    await asyncio.sleep(self.poll)
            except errors.ConfigError:
                self._apply_all([])
                raise
            finally:
                if calls is not None:
                    calls.cancel()
                    await asyncio.gather(calls, return_exceptions=True)
                if self.calls is not None:  # their rows are closed while the plane listens
                    await self.calls.close()
                with contextlib.suppress(httpx.HTTPError, ProblemError):
                    await plane.leave()

    async def _join(self, plane: WorkerClient) -> JoinOut:
        """Join, retrying while the control plane does not answer or answers 5xx (capped
        exponential backoff, full jitter); a refusal (401/403), another 4xx or a TLS
        certificate that does not verify ends the worker at once with one line naming the
        control plane (a configuration error: waiting will not fix it)."""
        delay = self.join_backoff[0]
        while True:
            try:
                return await plane.join(self.addresses)
            except Refused as exc:
                raise refusal(plane, exc) from None
            except (httpx.TransportError, ProblemError) as exc:
                certificate = refused_certificate(exc)
                if certificate is not None:
                    reason = certificate.verify_message or "certificate verify failed"
                    raise errors.ConfigError(
                        f"the control plane at {self.url} has a TLS certificate this worker "
                        f"does not trust ({reason}): give its CA with --ca-file, or fix the "
                        "certificate"
                    ) from None
                if isinstance(exc, ProblemError) and exc.status < 500:
                    raise errors.ConfigError(
                        f"the control plane at {self.url} answered the join with {exc}"
                    ) from None
                wait = random.uniform(delay / 2, delay)
                log.warning(
                    "remote worker %s: control plane %s not answering (%s: %s); retrying in %.1f s",
                    self.name,
                    self.url,
                    type(exc).__name__,
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.join_backoff[1])

    async def _calls_forever(self, calls: CallManager, plane: WorkerClient) -> None:
        """Calls of this worker's lines: the rows its previous run left open are ended, then
        outgoing calls and keypad presses are fetched every 0.2 s while calls run."""
        calls.store = RemoteCallStore(plane, calls.recordings)
        while True:
            try:
                if ended := await calls.store.end_orphans():
                    log.info("remote worker %s: ended %d calls left open", self.name, ended)
                break
            except errors.StorageUnavailable as exc:
                log.warning("remote worker %s: control plane unreachable: %s", self.name, exc)
                await asyncio.sleep(self.poll)
        while True:
            try:
                await calls.poll(list(self.applied))
            except errors.StorageUnavailable as exc:
                log.warning("remote worker %s: calls poll failed: %s", self.name, exc)
            await asyncio.sleep(0.2 if calls.active else self.poll)

    async def _sync(self, plane: WorkerClient) -> None:
        batch = self._reports.take()
        reports: list[ReportIn] = [
            {"account_id": r.account_id, "state": r.state, "code": r.code, "error": r.error}
            for r in batch
        ]
        stats: dict[str, int] = {"held": len(self.applied)}
        for account_id in self.applied:
            state = self.manager.status(account_id).state
            stats[state] = stats.get(state, 0) + 1
        addresses = self.publish() if self.publish is not None else self.addresses
        callers = self._callers()
        changed = callers != self._callers_sent  # the bot names them to the people they call
        now = {c["id"] for c in callers}
        try:
            answer = await plane.sync(
                stats=stats,
                reports=reports,
                # sent when a registrar saw us at another address
                addresses=addresses if addresses != self.addresses else None,
                callers=callers if changed else None,
                callers_gone=[c["id"] for c in self._callers_sent or [] if c["id"] not in now],
            )
        except (httpx.HTTPError, ProblemError):
            self._reports.put_back(batch)
            raise
        self._callers_sent = callers
        self.addresses = addresses
        self._apply_all(
            [
                AccountConfig(**dict(a) | {"codecs": tuple(a["codecs"])})  # type: ignore[arg-type]
                for a in answer["accounts"]
            ]
        )

    def _callers(self) -> list[CallerIn]:
        """This machine's connected caller accounts: public names, the phone masked."""
        if self.calls is None:
            return []
        return sorted(
            (
                {
                    "id": c.me.id,
                    "name": c.me.name,
                    "username": c.me.username,
                    "phone": mask_phone(c.me.phone),
                }
                for c in self.calls.callers.accounts
            ),
            key=lambda c: int(c["id"]),
        )

    def _apply_all(self, configs: list[AccountConfig]) -> None:
        wanted = {c.account_id: c for c in configs}
        for account_id in [a for a in self.applied if a not in wanted]:
            del self.applied[account_id]
            self.manager.remove(account_id)
        for account_id, cfg in wanted.items():
            if self.applied.get(account_id) != cfg:
                self.applied[account_id] = cfg
                self.manager.apply(cfg)


async def run_remote_worker(
    settings: Settings,
    *,
    control_url: str,
    credential: str,
    ca_file: str | None = None,
    callers: CallerPool | None = None,
) -> None:
    """`telesip worker --control-url ...`: a RegistrationManager driven by the control plane,
    and the calls of its lines with the caller accounts logged in on this machine (with
    telesip[calls]; without it one log line says calls are off)."""
    bind_log_context(worker=settings.worker_name)
    with_calls = extras.log_calls_off(f"remote worker {settings.worker_name}")
    if callers is None and with_calls:
        async with open_callers(settings) as pool:
            await run_remote_worker(
                settings,
                control_url=control_url,
                credential=credential,
                ca_file=ca_file,
                callers=pool,
            )
        return
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    host, _, port = settings.sip_bind.rpartition(":")
    advertise = settings.sip_advertise
    worker: RemoteWorker | None = None

    def sink(report: RegistrationReport) -> None:
        if worker is not None:
            worker.on_status(report)

    manager = RegistrationManager(
        status_sink=sink, bind_host=host or "0.0.0.0", udp_port=int(port), advertise_host=advertise
    )
    try:
        await manager.start()
    except OSError as exc:
        raise errors.ConfigError(
            reason=f"cannot bind SIP on {settings.sip_bind}: {exc.strerror}"
        ) from None
    local = manager.udp_local
    publish = publisher(
        manager, host or "0.0.0.0", advertise, local[1] if local else int(port), settings.rtp_ports
    )
    calls = (
        call_manager(settings, manager, callers or CallerPool(), host or "0.0.0.0", advertise)
        if with_calls
        else None
    )
    worker = RemoteWorker(
        manager,
        control_url,
        name=str(settings.worker_name),
        credential=credential,
        verify=verify,
        addresses=publish(),
        publish=publish,
        calls=calls,
    )
    try:
        await worker.run()
    finally:
        await asyncio.shield(manager.stop())
