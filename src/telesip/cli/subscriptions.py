"""``telesip subscriptions set|remove|show``: plans and seats (R11)."""

from __future__ import annotations

import dataclasses

import typer
from rich.table import Table

from telesip.bootstrap import services_for
from telesip.cli.common import as_json_option, command, out, print_json, settings
from telesip.domain.model import TelegramUser
from telesip.services import billing

subs_app = typer.Typer(help="Plans and seats (R11).", no_args_is_help=True)


@subs_app.command("set")
@command
async def subscriptions_set(
    user_id: int,
    plan: str,
    seats: int | None = typer.Option(None, help="Seats; -1 for unlimited; default: the plan's"),
    add: bool = typer.Option(False, "--add", help="Keep the user's other plans"),
) -> None:
    """Give a Telegram user a plan (free, softphone, office, softphone-start)."""
    async with services_for(settings(), upgrade=True) as deps:
        view = await billing.set_subscription(deps, TelegramUser(user_id), plan, seats, add=add)
    _print_subs(view)


@subs_app.command("remove")
@command
async def subscriptions_remove(user_id: int, plan: str) -> None:
    """Take a plan away from a Telegram user."""
    async with services_for(settings(), upgrade=True) as deps:
        await billing.remove_subscription(deps, user_id, plan)
        view = await billing.show_subscriptions(deps, user_id)
    _print_subs(view)


@subs_app.command("show")
@command
async def subscriptions_show(user_id: int, as_json: bool = as_json_option()) -> None:
    """A Telegram user's plans and how many seats are in use."""
    async with services_for(settings(), upgrade=True) as deps:
        view = await billing.show_subscriptions(deps, user_id)
    if as_json:
        print_json(dataclasses.asdict(view))
        return
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
