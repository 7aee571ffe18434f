"""``telesip accounts list|operator-paid`` and ``telesip audit``."""

from __future__ import annotations

import typer
from rich.table import Table

from telesip.bootstrap import services_for
from telesip.cli.common import command, out, settings
from telesip.services import accounts as accounts_svc
from telesip.services import audit as audit_svc

accounts_app = typer.Typer(help="SIP accounts.", no_args_is_help=True)


@accounts_app.command("list")
@command
async def accounts_list(
    owner: int | None = typer.Option(None, help="Only this owner's accounts (Telegram id)"),
    limit: int = typer.Option(1000, min=1, max=100000),
) -> None:
    """Every account with its owner, user, payer and registration state."""
    async with services_for(settings(), upgrade=True) as s:
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
@command
async def accounts_operator_paid(
    account_id: int, paid: bool = typer.Option(True, "--on/--off")
) -> None:
    """Mark an account as paid by the operator (or not)."""
    async with services_for(settings(), upgrade=True) as s:
        payer = await accounts_svc.set_operator_paid(s, account_id, paid)
    out.print(f"#{account_id} is now paid by: {payer.value}")


@command
async def audit(account_id: int, limit: int = typer.Option(50, min=1, max=500)) -> None:
    """The audit log of one account, newest first."""
    async with services_for(settings(), upgrade=True) as s:
        records = await audit_svc.account_audit(s, None, account_id, limit=limit)
    table = Table("at", "actor", "action", "details")
    for r in records:
        details = ", ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(
            r.at.strftime("%Y-%m-%d %H:%M:%S"), str(r.actor_id or "operator"), r.action, details
        )
    out.print(table if records else f"no audit records for #{account_id}")
