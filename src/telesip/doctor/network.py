"""Checks that talk to the network or the machine: the bot token (``getMe``), inline mode, the
webhook URL, the SIP and RTP ports, the address workers advertise, Redis, a remote worker's
control plane.

Invariants: a check never changes anything (ports are bound and released at once, the control
plane's ``/check`` reads only, ``getMe``/``getWebhookInfo`` read only); every network wait is
bounded by ``TIMEOUT``; a token, a credential or a password never reaches a finding.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import ssl
from typing import TYPE_CHECKING

import httpx
from telesip_client import ProblemError, Refused, WorkerClient

from telesip import extras
from telesip.config import Settings
from telesip.config_sources import masked_url
from telesip.doctor.report import Finding, error, first_line, ok, warning
from telesip.domain.errors import TelesipError
from telesip.workers.remote import check_control_url

if TYPE_CHECKING:
    from telesip.bot.setup import BotSetup

TIMEOUT = 8.0
FEEDBACK = (
    "the Bot API cannot tell whether inline feedback is on: BotFather /setinlinefeedback -> "
    "the bot -> Enabled (100%), or the first Receive press creates each transfer offer"
)


# -- the bot -------------------------------------------------------------------------------------


async def bot_setup(token: str, api_url: str | None) -> BotSetup:
    """What ``getMe`` says with this token (on ``api_url``, a self-hosted or fake Bot API, when
    given), read by the bot's own :func:`telesip.bot.setup.inline_mode`. Raises
    TokenValidationError, TelegramUnauthorizedError, TelegramAPIError, OSError or TimeoutError.
    aiogram is imported here, not with the module: it takes seconds to import, and every
    ``telesip`` command imports this module."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from telesip.bot.setup import inline_mode

    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else None
    bot = Bot(token, session=session)
    try:
        return await asyncio.wait_for(inline_mode(bot), TIMEOUT)
    finally:
        await bot.session.close()


async def check_bot(settings: Settings, *, required: bool) -> list[Finding]:
    """Token valid (getMe), inline mode on, and the inline feedback reminder."""
    if settings.bot_token is None or not settings.bot_token.get_secret_value():
        if required:
            return [error("bot token", "TELESIP_BOT_TOKEN is not set", "get one from @BotFather")]
        return [ok("bot token", "no bot (TELESIP_BOT_TOKEN unset)")]
    from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
    from aiogram.utils.token import TokenValidationError

    token = settings.bot_token.get_secret_value()
    api = settings.bot_api_url or "Telegram's Bot API"
    try:
        me = await bot_setup(token, settings.bot_api_url)
    except TokenValidationError:
        return [
            error(
                "bot token",
                "TELESIP_BOT_TOKEN is not a bot token (digits:letters)",
                "copy it again from @BotFather (/mybots -> the bot -> API Token)",
            )
        ]
    except TelegramUnauthorizedError:
        return [
            error(
                "bot token",
                f"{api} refused TELESIP_BOT_TOKEN (401 Unauthorized): wrong or revoked",
                "copy the current token from @BotFather (/mybots -> the bot -> API Token)",
            )
        ]
    except (TelegramAPIError, OSError, TimeoutError) as exc:
        return [
            error(
                "bot token",
                f"cannot reach {api}: {first_line(exc)}",
                "check this machine's outbound HTTPS (and TELESIP_BOT_API_URL)",
            )
        ]
    found = [ok("bot token", f"valid: @{me.username}")]
    problems = me.problems()  # the bot's own words, as its start-up log says them
    if problems:
        found.append(error("inline mode", "; ".join(problems)))
    else:
        found.append(ok("inline mode", f"on; {FEEDBACK}"))
    return found


async def check_webhook(settings: Settings, *, probe: bool) -> list[Finding]:
    """The webhook URL is HTTPS and answers (``probe``: not at start, when nothing listens
    yet)."""
    url = settings.webhook_url
    if not url:
        return []
    if not url.startswith("https://"):
        return [
            error(
                "webhook",
                f"TELESIP_WEBHOOK_URL {masked_url(url)} is not https://",
                "Telegram delivers only to HTTPS: a TLS reverse proxy in front (docs/deploy.md)",
            )
        ]
    if not probe:
        return [ok("webhook", f"{masked_url(url)} is https")]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            response = await http.get(url)
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        return [
            error(
                "webhook",
                f"{masked_url(url)} does not answer: {first_line(exc) or type(exc).__name__}",
                "check DNS, the reverse proxy and its certificate; it must forward to "
                f"TELESIP_WEBHOOK_BIND ({settings.webhook_bind})",
            )
        ]
    if response.status_code in (502, 503, 504):
        return [
            warning(
                "webhook",
                f"{masked_url(url)}: the proxy answers {response.status_code}, nothing behind it",
                f"start telesip, or point the proxy at TELESIP_WEBHOOK_BIND "
                f"({settings.webhook_bind})",
            )
        ]
    return [ok("webhook", f"{masked_url(url)} answers (HTTP {response.status_code})")]


# -- ports and addresses -------------------------------------------------------------------------


def split_bind(bind: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError when it is neither."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{bind!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def _bind_udp(host: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def _why(exc: OSError, what: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"{what} is in use (another telesip worker, a PBX or a softphone?)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{what}: the address is not one of this machine's"
    if exc.errno == errno.EACCES:
        return f"{what} needs privileges (a port below 1024)"
    return f"{what}: {exc.strerror}"


def check_miniapp(settings: Settings) -> list[Finding]:
    """Where the Mini App (the account table) opens, or how to turn its buttons on."""
    if settings.bot_token is None:
        return []
    if settings.miniapp_url is None:
        fix = "set TELESIP_PUBLIC_URL=https://<host> (a TLS proxy to TELESIP_API_BIND)"
        return [ok("mini app", "off: the bot shows no button to open the account table", fix)]
    return [ok("mini app", f"opens at {settings.miniapp_url} (served on TELESIP_API_BIND)")]


def check_sip_bind(settings: Settings) -> list[Finding]:
    try:
        host, port = split_bind(settings.sip_bind)
    except ValueError as exc:
        return [error("SIP bind", f"TELESIP_SIP_BIND: {exc}", "use HOST:PORT, e.g. 0.0.0.0:5060")]
    failure = _bind_udp(host, port)
    if failure is not None:
        return [
            error(
                "SIP bind",
                _why(failure, f"UDP {settings.sip_bind}"),
                "stop what holds it, or set TELESIP_SIP_BIND to a free port",
            )
        ]
    return [ok("SIP bind", f"UDP {settings.sip_bind} is free")]


def check_rtp_ports(settings: Settings, *, calls: bool) -> list[Finding]:
    if not calls:
        return [ok("RTP ports", "calls are off in this install (no telesip[calls])")]
    host = split_bind(settings.sip_bind)[0] if ":" in settings.sip_bind else "0.0.0.0"
    first, last = (int(p) for p in settings.rtp_ports.split("-"))
    taken = [p for p in range(first, last + 1) if _bind_udp(host, p) is not None]
    total = last - first + 1
    calls_fit = (total - len(taken)) // 2  # an RTP and an RTCP port per call
    fix = "free them or set TELESIP_RTP_PORTS to a free range (and open it in the firewall)"
    if calls_fit == 0:
        return [error("RTP ports", f"UDP {settings.rtp_ports}: all in use", fix)]
    problems: list[str] = []
    if taken:
        shown = ", ".join(map(str, taken[:5])) + (" ..." if len(taken) > 5 else "")
        problems.append(f"{len(taken)} in use ({shown})")
    if calls_fit < settings.max_calls:
        problems.append(
            f"room for {calls_fit} calls, fewer than TELESIP_MAX_CALLS={settings.max_calls}"
        )
        fix += "; two ports per call: widen the range or lower TELESIP_MAX_CALLS"
    if problems:
        return [warning("RTP ports", f"UDP {settings.rtp_ports}: {'; '.join(problems)}", fix)]
    return [ok("RTP ports", f"UDP {settings.rtp_ports} free ({calls_fit} calls)")]


def _address_problem(address: str) -> str | None:
    """Why ``address`` cannot be put in Contact/SDP or a PBX firewall, or None."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        if "." not in address:
            return (
                f"{address!r} is a bare host name: a PBX cannot resolve it or put it in a firewall"
            )
        try:
            infos = socket.getaddrinfo(address, None, proto=socket.IPPROTO_UDP)
        except OSError:
            return f"{address!r} does not resolve"
        if all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos):
            return f"{address!r} resolves to a loopback address"
        return None
    if ip.is_loopback:
        return f"{address} is a loopback address: nothing outside this machine reaches it"
    if ip.is_unspecified:
        return f"{address} is not an address others can send to"
    return None


def check_advertise(settings: Settings) -> list[Finding]:
    """The address workers advertise (Contact, SDP, the firewall list)."""
    fix = "set TELESIP_SIP_ADVERTISE to this machine's address as the SIP servers see it (an IP)"
    if settings.sip_advertise:
        problem = _address_problem(settings.sip_advertise)
        if problem:
            return [error("advertised address", f"TELESIP_SIP_ADVERTISE: {problem}", fix)]
        return [ok("advertised address", f"TELESIP_SIP_ADVERTISE={settings.sip_advertise}")]
    host = split_bind(settings.sip_bind)[0]
    if host not in ("0.0.0.0", "::"):
        problem = _address_problem(host)
        if problem:
            return [error("advertised address", f"TELESIP_SIP_BIND host: {problem}", fix)]
        return [ok("advertised address", f"{host} (the bind address)")]
    name = socket.gethostname()
    problem = _address_problem(name)
    if problem:
        return [
            warning(
                "advertised address",
                f"TELESIP_SIP_ADVERTISE unset; workers show the host name: {problem}",
                fix,
            )
        ]
    return [ok("advertised address", f"TELESIP_SIP_ADVERTISE unset; the host name {name}")]


# -- Redis and the control plane ----------------------------------------------------------------


async def check_redis(settings: Settings) -> list[Finding]:
    if not settings.redis_url:
        return []
    shown = masked_url(settings.redis_url)
    module = extras.missing("redis")
    if module is not None:
        return [
            error(
                "redis",
                f"TELESIP_REDIS_URL is set but this install has no Redis client ({module})",
                "pip install 'telesip[redis]'",
            )
        ]
    from redis.asyncio import Redis  # only with the redis extra
    from redis.exceptions import RedisError

    client = Redis.from_url(
        settings.redis_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
    )
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT)
    except (RedisError, OSError, TimeoutError, ValueError) as exc:
        return [
            error(
                "redis",
                f"{shown} does not answer: {first_line(exc)}",
                "check the URL and that Redis runs and accepts this host",
            )
        ]
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
    return [ok("redis", f"{shown} answers")]


async def check_control_plane(
    settings: Settings, *, control_url: str, credential: str | None, ca_file: str | None
) -> list[Finding]:
    """A remote worker's control URL is HTTPS and the service accepts its credential."""
    name = "control plane"
    try:
        base = check_control_url(control_url)
    except TelesipError as exc:
        return [
            error(name, f"TELESIP_CONTROL_URL: {exc.message}", "use the service's https:// URL")
        ]
    if not credential or not settings.worker_name:
        return [
            error(
                name,
                "a remote worker needs TELESIP_WORKER_NAME and TELESIP_WORKER_CREDENTIAL",
                "`telesip workers create NAME --remote` on the service prints a credential",
            )
        ]
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    plane = WorkerClient(
        base, credential, name=str(settings.worker_name), verify=verify, timeout=TIMEOUT
    )
    try:
        async with plane:
            await plane.check()
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        return [
            error(
                name,
                f"{base} does not answer: {first_line(exc) or type(exc).__name__}",
                "check DNS, the reverse proxy and its certificate (TELESIP_CONTROL_CA_FILE)",
            )
        ]
    except Refused as exc:
        return [
            error(
                name,
                f"{base} refuses worker {settings.worker_name!r}: {exc.detail or exc.status}",
                "`telesip workers create NAME --remote` gives a new credential (a revoked "
                "worker needs a new name)",
            )
        ]
    except ProblemError as exc:
        if exc.status == 404:
            return [
                warning(
                    name,
                    f"{base} answers but cannot check credentials (an older telesip?)",
                    "upgrade the service; the worker's credential is checked when it joins",
                )
            ]
        return [error(name, f"{base} answered HTTP {exc.status}", "check the service's log")]
    return [ok(name, f"{base} accepts worker {settings.worker_name!r}")]
