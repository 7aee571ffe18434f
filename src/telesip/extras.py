"""The optional parts of an install (pip extras) and how the code tells one is missing.

``pip install telesip`` is the core: accounts, the bot, registrations, the HTTP API.
``telesip[calls]`` adds the calls (Telethon, ntgcalls, numpy), ``telesip[redis]`` the bot's
conversations in Redis, ``telesip[pg]`` PostgreSQL, ``telesip[codecs]`` G.722 and Opus for
calls (``telesip[all]``: all of them).

Invariant: nothing in the core imports a module of an extra at import time; the modules in
:data:`WINGS` are the only ones that need an extra, and the core imports them only after
:func:`missing` said that extra is installed (tests/deploy/test_packaging.py checks both).
Looking is cheap: ``find_spec`` finds a module without importing it.
"""

from __future__ import annotations

import importlib.util
import logging

from telesip.domain.errors import ConfigError

#: the top-level modules each extra brings (what pyproject.toml's extras install)
EXTRAS: dict[str, tuple[str, ...]] = {
    "calls": ("telethon", "ntgcalls", "numpy"),
    "redis": ("redis",),
    "pg": ("asyncpg",),
    # G.722 and Opus on the SIP side; telesip.media.codecs runs G.711 only without it
    "codecs": ("av",),
}

#: the project's modules that import an extra's modules (they load only where it is installed)
WINGS: dict[str, tuple[str, ...]] = {
    "calls": (
        "telesip.media",  # numpy; its submodules come with it
        "telesip.calls.manager",
        "telesip.calls.bridge",
        "telesip.calls.rtp_stream",
        "telesip.calls.rtp_ports",  # telesip.media.errors loads telesip.media
        "telesip.calls.telegram.leg",
        "telesip.calls.telegram.p2p",
        "telesip.calls.telegram.media_host",  # numpy; framing, parent and child with it
        "telesip.calls.telegram.telethon_adapter",
    ),
    "pg": ("telesip.store.pg_statements", "telesip.store.repositories.transfers_pg"),
}

CALLS_OFF = (
    "%s: calls are off: this install has no call support (module %r is missing); "
    "install telesip[calls] to enable them"
)

log = logging.getLogger(__name__)


def missing(extra: str) -> str | None:
    """The first module of ``extra`` this install lacks, or None when it is complete."""
    for module in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def calls_enabled() -> bool:
    return missing("calls") is None


def log_calls_off(where: str) -> bool:
    """True when calls can run; else one log line saying why they are off (and how to turn
    them on) and False."""
    module = missing("calls")
    if module is None:
        return True
    log.warning(CALLS_OFF, where, module)
    return False


def require(extra: str, what: str) -> None:
    """Raise ConfigError naming the extra to install when ``extra`` is incomplete."""
    module = missing(extra)
    if module is not None:
        raise ConfigError(
            reason=f"{what} needs telesip[{extra}] (module {module!r} is missing): "
            f"pip install 'telesip[{extra}]'"
        )
