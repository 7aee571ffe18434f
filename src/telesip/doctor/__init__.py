"""``telesip doctor``: check a configuration, one finding per check (ok / warning / error and
what to do). The same checks run when ``telesip run``, ``worker`` and ``bot`` start; there the
warnings and errors go to the log and the process carries on (what cannot work fails on its
own, with its own message).

Which checks run depends on the role: ``run`` (everything a full service uses), ``worker``,
``bot``, ``api``, or ``remote`` (a worker without database access, talking to the control plane).
Nothing here changes anything (see :mod:`telesip.doctor.storage`, :mod:`telesip.doctor.network`).
"""

from __future__ import annotations

import logging
from typing import Literal

from telesip import extras
from telesip.config import Settings
from telesip.doctor import network
from telesip.doctor.report import Finding, Status, as_json, failed, log_findings
from telesip.doctor.storage import Storage, check_callers, check_database, check_key

__all__ = ["ROLES", "Finding", "Role", "Status", "as_json", "diagnose", "failed", "log_at_start"]

Role = Literal["run", "worker", "bot", "api", "remote"]
ROLES: tuple[Role, ...] = ("run", "worker", "bot", "api", "remote")

log = logging.getLogger(__name__)


async def diagnose(
    settings: Settings,
    role: Role = "run",
    *,
    at_start: bool = False,
    control_url: str | None = None,
    credential: str | None = None,
    ca_file: str | None = None,
) -> list[Finding]:
    """Every check the role needs, in order: storage, bot, network, ports, callers, control
    plane. ``at_start``: what only makes sense before a start is skipped (the webhook URL is
    not probed: nothing listens behind it yet)."""
    calls = extras.calls_enabled()
    holds_lines = role in ("run", "worker", "remote")
    st = Storage()
    findings: list[Finding] = []
    try:
        if role != "remote":
            await check_database(settings, st)
        await check_key(settings, st)
        findings += st.findings
        if role in ("run", "bot"):
            findings += await network.check_bot(settings, required=role == "bot")
            findings += await network.check_webhook(settings, probe=not at_start)
            findings += network.check_miniapp(settings)
            findings += await network.check_redis(settings)
        if holds_lines:
            findings += network.check_sip_bind(settings)
            findings += network.check_rtp_ports(settings, calls=calls)
            findings += network.check_advertise(settings)
            findings += check_callers(settings, st, calls=calls)
        if role == "remote":
            url = control_url or settings.control_url or ""
            if credential is None and settings.worker_credential is not None:
                credential = settings.worker_credential.get_secret_value()
            findings += await network.check_control_plane(
                settings,
                control_url=url,
                credential=credential,
                ca_file=ca_file or settings.control_ca_file,
            )
    finally:
        if st.engine is not None:
            await st.engine.dispose()
    return findings


async def log_at_start(
    settings: Settings,
    role: Role,
    *,
    control_url: str | None = None,
    credential: str | None = None,
    ca_file: str | None = None,
) -> None:
    """The start of a process: run the role's checks and log what is not ok."""
    try:
        findings = await diagnose(
            settings,
            role,
            at_start=True,
            control_url=control_url,
            credential=credential,
            ca_file=ca_file,
        )
    except Exception as exc:  # a check must never stop the service from starting
        log.warning("start checks could not run: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return
    log_findings(findings, log)
    bad = sum(f.status is not Status.OK for f in findings)
    if bad:
        log.warning("start checks: %d of %d need attention (telesip doctor)", bad, len(findings))
