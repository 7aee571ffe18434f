"""``telesip accounts list|unused|import|operator-paid`` and ``telesip audit``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from telesip.bootstrap import services_for
from telesip.cli.common import (
    as_json_option,
    command,
    err,
    known_user,
    out,
    print_json,
    settings,
)
from telesip.domain.readmodels import AccountSummary
from telesip.services import accounts as accounts_svc
from telesip.services import audit as audit_svc
from telesip.services import imports as imports_svc

accounts_app = typer.Typer(help="SIP accounts.", no_args_is_help=True)


@accounts_app.command("list")
@command
async def accounts_list(
    owner: int | None = typer.Option(None, help="Only this owner's accounts (Telegram id)"),
    limit: int = typer.Option(1000, min=1, max=100000),
    as_json: bool = as_json_option(),
) -> None:
    """Every account with its owner, user, payer and registration state."""
    async with services_for(settings(), upgrade=True) as deps:
        await known_user(deps, owner)
        rows = await accounts_svc.list_accounts(
            deps, limit=limit, owner_ids=[owner] if owner is not None else None
        )
    _show(rows, as_json)


@accounts_app.command("unused")
@command
async def accounts_unused(
    owner: int | None = typer.Option(None, help="Only this owner's accounts (Telegram id)"),
    limit: int = typer.Option(1000, min=1, max=100000),
    as_json: bool = as_json_option(),
) -> None:
    """Enabled accounts with no call and no registration change for TELESIP_UNUSED_DAYS days
    (R11), for their owners to disable (``telesip accounts list``'s columns)."""
    async with services_for(settings(), upgrade=True) as deps:
        await known_user(deps, owner)
        rows = await accounts_svc.unused(
            deps, None, owner_ids=[owner] if owner is not None else None, limit=limit
        )
    _show(rows, as_json)


def _show(rows: list[AccountSummary], as_json: bool) -> None:
    """Accounts as a table, or with ``--json`` as one JSON list."""
    if as_json:
        print_json(
            [
                {
                    "id": a.id,
                    "login": a.login,
                    "domain": a.domain,
                    "owner_id": a.owner_id,
                    "owner": a.owner_label,
                    "user_id": a.user_id,
                    "user": a.user_label,
                    "assigned": a.assigned,
                    "payer": a.payer.value,
                    "enabled": a.enabled,
                    "duplicate": a.duplicate,
                    "registration": {
                        "state": a.reg_state,
                        "code": a.reg_code,
                        "error": a.reg_error,
                    },
                }
                for a in rows
            ]
        )
        return
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


@accounts_app.command("import")
@command
async def accounts_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    owner: int = typer.Option(..., help="Telegram id of the owner (who has started the bot)"),
    server: str | None = typer.Option(
        None, help="HOST[:PORT] of the PBX (required for FreePBX, pjsip.conf, sip.conf)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; write nothing"),
    as_json: bool = as_json_option(),
) -> None:
    """Import SIP accounts from a CSV, a FreePBX extensions export, pjsip.conf or sip.conf
    (docs/import.md). A refused file or missing seats change nothing and exit 1."""
    async with services_for(settings(), upgrade=True) as deps:
        with file.open("rb") as stream:
            outcome = await imports_svc.import_accounts(
                deps,
                None,
                stream,
                owner_id=owner,
                server=server,
                filename=file.name,
                dry_run=dry_run,
            )
    if as_json:
        print_json(outcome.as_dict())
    elif outcome.plan.refused:
        pass  # said below, on stderr
    else:
        verb = "would import" if dry_run else "imported"
        out.print(f"{escape(file.name)}: {verb}: {escape(outcome.summary())}")
        for found in (*outcome.plan.issues, *outcome.plan.notes):
            out.print(f"  {escape(found.message)}")
        for u in outcome.unassigned:
            out.print(f"  Line {u.line}: {escape(str(u.telegram))} has not started the bot yet")
    if outcome.plan.refused:
        err.print(f"[red]error:[/] {escape(outcome.plan.issues[0].message)}")
        raise typer.Exit(1)


@accounts_app.command("operator-paid")
@command
async def accounts_operator_paid(
    account_id: int, paid: bool = typer.Option(True, "--on/--off")
) -> None:
    """Mark an account as paid by the operator (or not)."""
    async with services_for(settings(), upgrade=True) as deps:
        payer = await accounts_svc.set_operator_paid(deps, account_id, paid)
    out.print(f"#{account_id} is now paid by: {payer.value}")


@command
async def audit(
    account_id: int,
    limit: int = typer.Option(50, min=1, max=500),
    as_json: bool = as_json_option(),
) -> None:
    """The audit log of one account, newest first (it outlives a deleted account); an account
    that never existed is an error."""
    async with services_for(settings(), upgrade=True) as deps:
        records = await audit_svc.account_audit(deps, None, account_id, limit=limit)
        if not records:
            await accounts_svc.get_card(deps, None, account_id)  # AccountNotFound: exit 1
    if as_json:
        print_json(
            [
                {"id": r.id, "at": r.at, "actor_id": r.actor_id, "action": r.action}
                | {"details": r.details}
                for r in records
            ]
        )
        return
    table = Table("at", "actor", "action", "details")
    for r in records:
        details = ", ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(
            r.at.strftime("%Y-%m-%d %H:%M:%S"), str(r.actor_id or "operator"), r.action, details
        )
    out.print(table if records else f"no audit records for #{account_id}")
