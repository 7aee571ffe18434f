"""What every ``telesip`` command shares: the settings, the consoles, and the one place where an
error becomes a one-line message and a non-zero exit (never a traceback)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from telesip import eventloop
from telesip.config import Settings
from telesip.domain.errors import CodedError, ConfigError, UserNotFound
from telesip.services import people
from telesip.services.dependencies import Dependencies

out = Console(soft_wrap=True)  # a message is one line, whatever the width (tables still fit it)
err = Console(stderr=True, soft_wrap=True)  # one line per error, even into a file
T = TypeVar("T")
log = logging.getLogger(__name__)


def settings() -> Settings:
    """The settings from the environment, the env file and the ``_FILE`` files; a bad one is
    named in one line (exit 2)."""
    try:
        return Settings()
    except ConfigError as exc:  # an unreadable env file or _FILE, or both forms of one setting
        err.print(f"[red]error:[/] {escape(exc.message)}")
        raise typer.Exit(2) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TELESIP_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        err.print(f"[red]error:[/] {escape(name)}: {escape(str(first['msg']))}")
        raise typer.Exit(2) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; rule errors and failures are one line and exit 1."""
    try:
        return eventloop.run(coro)
    except CodedError as exc:  # a rule's error, or a protocol layer's (a port range, a session)
        err.print(f"[red]error:[/] {escape(exc.message)}")
        raise typer.Exit(1) from None
    except asyncio.CancelledError:  # SIGTERM: stopped cleanly
        raise typer.Exit(0) from None
    except typer.Exit:  # a bad setting read inside a command: already said in one line
        raise
    except Exception as exc:  # a part of `telesip run` failed: one line, not a traceback
        log.debug("failed", exc_info=exc)
        err.print(f"[red]error:[/] {escape(describe(exc))}")
        raise typer.Exit(1) from None


def describe(exc: BaseException) -> str:
    """The first coded error inside (TaskGroup wraps a failing part), else the first leaf."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        rule = [e for e in exc.exceptions if isinstance(e, CodedError)]
        exc = rule[0] if rule else exc.exceptions[0]
    if isinstance(exc, CodedError):
        cause = exc.__cause__  # the operator may see what the database said
        if cause is not None and exc.code in ("storage_unavailable", "storage_full"):
            detail = str(getattr(cause, "orig", None) or cause).strip().splitlines()
            return f"{exc.message} ({detail[0] if detail else type(cause).__name__})"
        return exc.message
    return f"{type(exc).__name__}: {exc}"


async def known_user(deps: Dependencies, user_id: int | None) -> None:
    """A selector naming a user (``--owner 123``) must name one this service knows: an unknown
    one is an error (exit 1), not an empty listing that looks like "nothing there"."""
    if user_id is not None and await people.get_user(deps, user_id) is None:
        raise UserNotFound(user_id=user_id)


def as_json_option() -> Any:
    return typer.Option(False, "--json", help="One JSON document for machines")


def print_json(data: Any) -> None:
    """``--json``: the command's result as one JSON document on stdout (dates as ISO text)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def command(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Make an async function a typer command run through :func:`run`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run(fn(*args, **kwargs))

    return wrapper
