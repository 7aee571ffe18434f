"""The ``telesip`` command. Every rule error becomes a one-line message and a non-zero exit."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from telesip.bootstrap import run as run_service
from telesip.bootstrap import services_for
from telesip.config import Settings
from telesip.domain.errors import TelesipError
from telesip.domain.model import TelegramUser
from telesip.services import accounts as accounts_svc
from telesip.services import audit as audit_svc
from telesip.services import billing, fleet
from telesip.services import calls as calls_svc
from telesip.store import migrate

app = typer.Typer(
    help="telesip: SIP accounts in Telegram.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="SIP accounts.", no_args_is_help=True)
subs_app = typer.Typer(help="Plans and seats (R11).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(subs_app, name="subscriptions")
workers_app = typer.Typer(help="SIP workers and the firewall list.", no_args_is_help=True)
app.add_typer(workers_app, name="workers")
calls_app = typer.Typer(help="Calls: recordings.", no_args_is_help=True)
app.add_typer(calls_app, name="calls")
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TELESIP_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        err.print(f"[red]error:[/] {name}: {first['msg']}")
        raise typer.Exit(2) from None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except TelesipError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None
    except asyncio.CancelledError:  # SIGTERM: stopped cleanly
        raise typer.Exit(0) from None
    except typer.Exit:  # a bad setting read inside a command: already said in one line
        raise
    except Exception as exc:  # a part of `telesip run` failed: one line, not a traceback
        logging.getLogger("telesip").debug("failed", exc_info=exc)
        err.print(f"[red]error:[/] {_describe(exc)}")
        raise typer.Exit(1) from None


def _describe(exc: BaseException) -> str:
    """The first rule error inside (TaskGroup wraps a failing part), else the first leaf."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        rule = [e for e in exc.exceptions if isinstance(e, TelesipError)]
        exc = rule[0] if rule else exc.exceptions[0]
    if isinstance(exc, TelesipError):
        cause = exc.__cause__  # the operator may see what the database said
        if cause is not None and exc.code == "storage_unavailable":
            detail = str(getattr(cause, "orig", None) or cause).strip().splitlines()
            return f"{exc.message} ({detail[0] if detail else type(cause).__name__})"
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _command(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        _run(fn(*args, **kwargs))

    return wrapper


@app.command()
def run() -> None:
    """Run the service: migrate, then the API, the bot (with TELESIP_BOT_TOKEN) and a worker."""
    settings = _settings()
    settings.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        _run(run_service(settings))


@app.command("bot")
def bot() -> None:
    """Run only the Telegram bot (TELESIP_BOT_TOKEN; long polling, or TELESIP_WEBHOOK_URL)."""
    settings = _settings()
    if settings.bot_token is None or not settings.bot_token.get_secret_value():
        err.print("[red]error:[/] TELESIP_BOT_TOKEN is not set")
        raise typer.Exit(2)
    settings.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        _run(run_service(settings, only={"bot"}))


@app.command("worker")
def worker(
    name: str | None = typer.Option(None, help="Worker name (default TELESIP_WORKER_NAME or host)"),
    pool: str | None = typer.Option(None, help="Pool this worker serves pinned accounts of"),
    control_url: str | None = typer.Option(
        None, help="Remote worker: the service's HTTPS URL (no database access needed)"
    ),
    credential: str | None = typer.Option(
        None, envvar="TELESIP_WORKER_CREDENTIAL", help="Remote worker: its one-time credential"
    ),
    ca_file: str | None = typer.Option(None, help="Remote worker: CA bundle for the control URL"),
) -> None:
    """Run only a SIP worker: keep the accounts it holds registered (TELESIP_SIP_BIND)."""
    settings = _settings()
    settings.worker_name = name or settings.worker_name
    settings.worker_pool = pool or settings.worker_pool
    settings.configure_logging()
    if control_url is None:
        with contextlib.suppress(KeyboardInterrupt):
            _run(run_service(settings, only={"worker"}))
        return
    from telesip.workers.remote import run_remote_worker

    if not credential or not settings.worker_name:
        err.print(
            "[red]error:[/] a remote worker needs --name and --credential "
            "(or TELESIP_WORKER_CREDENTIAL)"
        )
        raise typer.Exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        _run(
            run_remote_worker(
                settings, control_url=control_url, credential=credential, ca_file=ca_file
            )
        )


@workers_app.command("list")
@_command
async def workers_list() -> None:
    """Every worker: alive or not, heartbeat age, accounts held, registrations, addresses."""
    settings = _settings()
    async with services_for(settings, upgrade=True) as s:
        rows = await fleet.list_workers(s, ttl=settings.lease_ttl_seconds)
    table = Table(
        "worker",
        "pool",
        "kind",
        "state",
        "heartbeat",
        "accounts",
        "registered",
        "failing",
        "addresses",
    )
    for w in rows:
        state = "revoked" if w.revoked else ("alive" if w.alive else "down")
        age = "—" if w.heartbeat_age is None else f"{w.heartbeat_age:.1f} s ago"
        failing = sum(
            v for k, v in w.stats.items() if k in ("auth_failed", "unreachable", "failed")
        )
        table.add_row(
            w.name,
            w.pool or "—",
            "remote" if w.remote else "local",
            state,
            age,
            str(w.accounts),
            str(w.stats.get("registered", 0) if w.alive else 0),
            str(failing if w.alive else 0),
            ", ".join(w.addresses) or "—",
        )
    out.print(table if rows else "no workers yet")


@workers_app.command("create")
@_command
async def workers_create(
    name: str,
    pool: str | None = typer.Option(None, help="Pool name accounts can be pinned to"),
    remote: bool = typer.Option(False, "--remote", help="A worker outside, over the control API"),
) -> None:
    """Create a worker; a remote one gets a one-time credential, printed only now."""
    async with services_for(_settings(), upgrade=True) as s:
        _, credential = await fleet.create_worker(s, name, pool=pool, remote=remote)
    out.print(f"worker {name!r} created")
    if credential:
        out.print(f"credential (shown once): {credential}")


@workers_app.command("revoke")
@_command
async def workers_revoke(name: str) -> None:
    """Revoke a worker: it is refused from now on and its accounts are taken over."""
    async with services_for(_settings(), upgrade=True) as s:
        await fleet.revoke_worker(s, name)
    out.print(f"worker {name!r} revoked")


@workers_app.command("firewall")
@_command
async def workers_firewall(account_id: int) -> None:
    """The SIP addresses a PBX must allow for one account."""
    settings = _settings()
    async with services_for(settings, upgrade=True) as s:
        addresses = await fleet.firewall(s, account_id, ttl=settings.lease_ttl_seconds)
    out.print("\n".join(addresses) if addresses else "no worker can serve this account yet")


@calls_app.command("prune-recordings")
@_command
async def calls_prune_recordings(
    days: int | None = typer.Option(None, min=1, help="Default: TELESIP_RECORDING_DAYS"),
) -> None:
    """Delete the recordings of calls that ended more than TELESIP_RECORDING_DAYS ago (the
    worker does it every hour)."""
    settings = _settings()
    async with services_for(settings, upgrade=True) as s:
        gone = await calls_svc.prune_recordings(
            s, settings.data_dir / "recordings", days or settings.recording_days
        )
    out.print(f"deleted {gone} recording file(s)")


@db_app.command("upgrade")
@_command
async def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply the schema migrations."""
    async with services_for(_settings()) as s:
        await migrate.upgrade(s.engine, revision)
        out.print(f"database at {', '.join(await migrate.current_revisions(s.engine))}")


@db_app.command("current")
@_command
async def db_current() -> None:
    """Show the schema revision."""
    async with services_for(_settings()) as s:
        current = ", ".join(await migrate.current_revisions(s.engine)) or "empty"
        out.print(f"current: {current}; code: {', '.join(migrate.head_revisions())}")


@accounts_app.command("list")
@_command
async def accounts_list(
    owner: int | None = typer.Option(None, help="Only this owner's accounts (Telegram id)"),
    limit: int = typer.Option(1000, min=1, max=100000),
) -> None:
    """Every account with its owner, user, payer and registration state."""
    async with services_for(_settings(), upgrade=True) as s:
        rows = await accounts_svc.list_accounts(
            s, limit=limit, owner_ids=[owner] if owner is not None else None
        )
    table = Table("ID", "login@server", "owner", "user", "payer", "enabled", "registration")
    for a in rows:
        reg = a.reg_state + (f" {a.reg_code}" if a.reg_code else "")
        table.add_row(
            f"#{a.id}",
            f"{a.login}@{a.domain}" + (" (duplicate)" if a.duplicate else ""),
            a.owner_label,
            "—" if not a.assigned else a.user_label,
            a.payer.value,
            "yes" if a.enabled else "no",
            reg,
        )
    out.print(table)


@accounts_app.command("operator-paid")
@_command
async def accounts_operator_paid(
    account_id: int, paid: bool = typer.Option(True, "--on/--off")
) -> None:
    """Mark an account as paid by the operator (or not)."""
    async with services_for(_settings(), upgrade=True) as s:
        payer = await accounts_svc.set_operator_paid(s, account_id, paid)
    out.print(f"#{account_id} is now paid by: {payer.value}")


@app.command("audit")
@_command
async def audit(account_id: int, limit: int = typer.Option(50, min=1, max=500)) -> None:
    """The audit log of one account, newest first."""
    async with services_for(_settings(), upgrade=True) as s:
        records = await audit_svc.account_audit(s, None, account_id, limit=limit)
    table = Table("at", "actor", "action", "details")
    for r in records:
        details = ", ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(
            r.at.strftime("%Y-%m-%d %H:%M:%S"), str(r.actor_id or "operator"), r.action, details
        )
    out.print(table if records else f"no audit records for #{account_id}")


@subs_app.command("set")
@_command
async def subscriptions_set(
    user_id: int,
    plan: str,
    seats: int | None = typer.Option(None, help="Seats; -1 for unlimited; default: the plan's"),
    add: bool = typer.Option(False, "--add", help="Keep the user's other plans"),
) -> None:
    """Give a Telegram user a plan (free, softphone, office, softphone-start)."""
    async with services_for(_settings(), upgrade=True) as s:
        view = await billing.set_subscription(s, TelegramUser(user_id), plan, seats, add=add)
    _print_subs(view)


@subs_app.command("remove")
@_command
async def subscriptions_remove(user_id: int, plan: str) -> None:
    """Take a plan away from a Telegram user."""
    async with services_for(_settings(), upgrade=True) as s:
        await billing.remove_subscription(s, user_id, plan)
        view = await billing.show_subscriptions(s, user_id)
    _print_subs(view)


@subs_app.command("show")
@_command
async def subscriptions_show(user_id: int) -> None:
    """A Telegram user's plans and how many seats are in use."""
    async with services_for(_settings(), upgrade=True) as s:
        view = await billing.show_subscriptions(s, user_id)
    _print_subs(view)


def _print_subs(view: billing.SubscriptionView) -> None:
    def lim(v: int | None) -> str:
        return "unlimited" if v is None else str(v)

    table = Table("plan", "seats")
    for sub in view.subscriptions:
        table.add_row(sub.plan, lim(sub.seats))
    out.print(table)
    e = view.entitlements
    out.print(
        f"seats used {e.seats_used}/{lim(e.seat_limit)}, softphone-start "
        f"{e.start_used}/{lim(e.start_limit)}, can assign: {'yes' if e.can_assign else 'no'}"
    )


# the operators' HTTP API: `telesip api` and `telesip api-keys ...`
from telesip.api.cli import api as _api_command  # noqa: E402
from telesip.api.cli import api_keys_app as _api_keys_app  # noqa: E402

app.command("api")(_api_command)
app.add_typer(_api_keys_app, name="api-keys")

# caller accounts: `telesip telegram login|list|logout`
from telesip.telegram.cli import telegram_app as _telegram_app  # noqa: E402

app.add_typer(_telegram_app, name="telegram")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
