"""``telesip api-keys create/list/revoke``: the operators' keys to the HTTP API.

The whole key is printed once, at creation; only its hash is stored.
"""

from __future__ import annotations

import typer
from rich.table import Table

from telesip.bootstrap import services_for
from telesip.cli.common import as_json_option, err, out, print_json, run, settings
from telesip.domain.operators import ApiKey, Scope
from telesip.services import operators

api_keys_app = typer.Typer(help="API keys of operators (HTTP API).", no_args_is_help=True)


@api_keys_app.command("create")
def create(
    operator: str = typer.Argument(..., help="Who holds the key (owns its templates, webhooks)"),
    all_users: bool = typer.Option(False, "--all", help="Manage every user and account"),
    user: list[int] = typer.Option(
        [],
        "--user",
        help="A Telegram user id it manages (repeat; may be one who has not started the bot yet)",
    ),
    account: list[int] = typer.Option([], "--account", help="An account id it manages (repeat)"),
    name: str = typer.Option("", "--name", help="A label to tell keys apart"),
) -> None:
    """Create an API key scoped to some users/accounts (or --all); prints it once."""
    scope = Scope(all=all_users, users=frozenset(user), accounts=frozenset(account))

    async def go() -> operators.IssuedKey:
        async with services_for(settings(), upgrade=True) as deps:
            return await operators.create_api_key(deps, operator, scope, name)

    issued = run(go())
    err.print(f"API key #{issued.key.id} for {operator}; it is shown only now:")
    out.print(issued.token, highlight=False)


@api_keys_app.command("list")
def list_keys(
    operator: str | None = typer.Option(None, help="Only this operator's keys"),
    as_json: bool = as_json_option(),
) -> None:
    """Every API key: id, operator, prefix, scope, last use; never the key itself."""

    async def go() -> list[ApiKey]:
        async with services_for(settings(), upgrade=True) as deps:
            return await operators.list_api_keys(deps, operator)

    keys = run(go())
    if as_json:
        print_json(
            [
                {
                    "id": k.id,
                    "operator": k.operator,
                    "name": k.name,
                    "prefix": k.prefix,
                    "scope": {
                        "all": k.scope.all,
                        "users": sorted(k.scope.users),
                        "accounts": sorted(k.scope.accounts),
                    },
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                    "revoked_at": k.revoked_at,
                }
                for k in keys
            ]
        )
        return
    table = Table("ID", "operator", "name", "prefix", "scope", "created", "last used", "state")
    for k in keys:
        scope = (
            "all"
            if k.scope.all
            else ", ".join(
                [
                    *(f"user {u}" for u in sorted(k.scope.users)),
                    *(f"#{a}" for a in k.scope.accounts),
                ]
            )
        )
        table.add_row(
            str(k.id),
            k.operator,
            k.name,
            k.prefix + "…",
            scope,
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "—",
            "revoked" if k.revoked_at else "active",
        )
    out.print(table)


@api_keys_app.command("revoke")
def revoke(key_id: int) -> None:
    """Revoke an API key at once."""

    async def go() -> None:
        async with services_for(settings(), upgrade=True) as deps:
            await operators.revoke_api_key(deps, key_id)

    run(go())
    out.print(f"API key #{key_id} revoked")
