"""``telesip telegram login|list|logout``: the caller accounts that place Telegram calls.

Login needs TELESIP_TG_API_ID and TELESIP_TG_API_HASH (https://my.telegram.org, "API
development tools"). Codes and passwords are read without echo and never printed. Login and
logout also keep the database's list of caller accounts (``telegram_callers``: public names
and a masked phone) that the bot names to people; the session itself stays in its file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from telesip import extras
from telesip.bootstrap import services_for
from telesip.calls.telegram import sessions
from telesip.calls.telegram.errors import TelegramError
from telesip.calls.telegram.sessions import CallerAccount, ClientFactory, SessionStore
from telesip.cli.common import as_json_option, err, out, print_json, run
from telesip.cli.common import settings as read_settings
from telesip.config import Settings
from telesip.domain.errors import TelesipError
from telesip.services import callers as callers_svc

telegram_app = typer.Typer(
    help="Caller accounts: Telegram user accounts that place the calls.", no_args_is_help=True
)
T = TypeVar("T")
API_HOWTO = (
    "TELESIP_TG_API_ID and TELESIP_TG_API_HASH are not set: create them at "
    "https://my.telegram.org (API development tools)"
)


def client_factory(settings: Settings) -> ClientFactory | None:
    """Telethon clients with the service's API id; None when it is not configured (or this
    install has no telesip[calls])."""
    if not extras.calls_enabled() or settings.tg_api_id is None or settings.tg_api_hash is None:
        return None
    api_hash = settings.tg_api_hash.get_secret_value()
    if not api_hash:
        return None
    return sessions.telethon_factory(settings.tg_api_id, api_hash)


def _store(settings: Settings) -> SessionStore:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return SessionStore.open(settings.data_dir, secret)


class _TerminalPrompts:
    def __init__(self, phone: str | None) -> None:
        self._phone = phone

    def phone(self) -> str:
        return self._phone or str(typer.prompt("Phone number (international format)"))

    def code(self) -> str:
        return str(typer.prompt("Login code", hide_input=True))

    def password(self) -> str:
        return str(typer.prompt("Two-step verification password", hide_input=True))

    def say(self, text: str) -> None:
        typer.echo(text)


@telegram_app.command("login")
def login(
    phone: str | None = typer.Option(None, help="The account's phone number (else prompted)"),
) -> None:
    """Log a Telegram user account in as a caller account (phone, code, 2FA password)."""
    settings = read_settings()
    _sync(lambda: extras.require("calls", "a caller account"))
    factory = client_factory(settings)
    if factory is None:
        err.print(f"[red]error:[/] {API_HOWTO}")
        raise typer.Exit(2)
    store = _sync(lambda: _store(settings))
    account = run(sessions.login(store, factory, _TerminalPrompts(phone)))
    out.print(
        f"logged in: +{account.phone} is {account.user.name} (id {account.user.id}); "
        f"saved to {store.path(account.phone)}"
    )
    _in_database(settings, _record(settings, account), "record it")


@telegram_app.command("list")
def list_accounts(as_json: bool = as_json_option()) -> None:
    """The caller accounts logged in here: phone, Telegram user id, name."""
    settings = read_settings()
    accounts = _sync(lambda: _store(settings).list())
    if as_json:
        print_json(
            [
                {
                    "phone": f"+{a.phone}",
                    "user_id": a.user.id,
                    "name": a.user.name,
                    "username": a.user.username,
                }
                for a in accounts
            ]
        )
        return
    if not accounts:
        out.print("no caller accounts (add one with `telesip telegram login`)")
        return
    table = Table("phone", "user id", "name", "username")
    for a in accounts:
        table.add_row(
            f"+{a.phone}",
            str(a.user.id),
            a.user.name,
            f"@{a.user.username}" if a.user.username else "—",
        )
    out.print(table)


@telegram_app.command("logout")
def logout(phone: str) -> None:
    """End a caller account's session at Telegram and delete it here."""
    settings = read_settings()
    factory = client_factory(settings)
    store = _sync(lambda: _store(settings))
    account = _sync(lambda: store.load(phone))
    ended = run(sessions.logout(store, factory, phone))
    out.print(f"+{sessions.normalize_phone(phone)} removed")
    _in_database(settings, _forget(settings, account.user.id), "remove it")
    if not ended:
        out.print(
            "Telegram did not confirm the logout (offline, or TELESIP_TG_API_ID/HASH not set): "
            "end the session in that account's Telegram app, Settings → Devices"
        )


async def _record(settings: Settings, account: CallerAccount) -> None:
    user = account.user
    info = callers_svc.caller_info(user.id, user.name, user.username, user.phone or account.phone)
    async with services_for(settings, upgrade=True) as deps:
        await callers_svc.record_caller(deps, info)


async def _forget(settings: Settings, user_id: int) -> None:
    async with services_for(settings, upgrade=True) as deps:
        await callers_svc.forget_caller(deps, user_id)


def _in_database(settings: Settings, work: Coroutine[Any, Any, None], what: str) -> None:
    """The session file is what counts; a database that cannot be reached only warns."""
    try:
        asyncio.run(work)
    except TelesipError as exc:
        err.print(
            f"[yellow]warning:[/] the database could not {what} for the bot "
            f"({escape(exc.message)}); a worker records caller accounts again when it connects them"
        )


def _sync(fn: Callable[[], T]) -> T:
    """``fn()``, its errors (bad key, damaged or missing session) as one line and exit status 1."""
    try:
        return fn()
    except (TelesipError, TelegramError) as exc:
        err.print(f"[red]error:[/] {escape(exc.message)}")
        raise typer.Exit(1) from None
