"""``telesip workers list|create|revoke|firewall``: the SIP workers of the fleet."""

from __future__ import annotations

import dataclasses

import typer
from rich.table import Table

from telesip.bootstrap import services_for
from telesip.cli.common import as_json_option, command, out, print_json, settings
from telesip.domain.errors import InvalidInput
from telesip.domain.firewall import FORMATS, describe, render
from telesip.services import fleet

workers_app = typer.Typer(help="SIP workers and the firewall list.", no_args_is_help=True)


@workers_app.command("list")
@command
async def workers_list(as_json: bool = as_json_option()) -> None:
    """Every worker: alive or not, heartbeat age, accounts held, registrations, addresses."""
    config = settings()
    async with services_for(config, upgrade=True) as deps:
        rows = await fleet.list_workers(deps, ttl=config.lease_ttl_seconds)
    if as_json:
        print_json([dataclasses.asdict(w) for w in rows])
        return
    table = Table(
        "worker",
        "pool",
        "kind",
        "state",
        "heartbeat",
        "accounts",
        "registered",
        "failing",
    )
    table.add_column("addresses", overflow="fold")  # whole IP addresses, never cut
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
            "\n".join(describe(w.addresses)) or "—",
        )
    out.print(table if rows else "no workers yet")


@workers_app.command("create")
@command
async def workers_create(
    name: str,
    pool: str | None = typer.Option(None, help="Pool name accounts can be pinned to"),
    remote: bool = typer.Option(False, "--remote", help="A worker outside, over the control API"),
) -> None:
    """Create a worker; a remote one gets a one-time credential, printed only now."""
    async with services_for(settings(), upgrade=True) as deps:
        _, credential = await fleet.create_worker(deps, name, pool=pool, remote=remote)
    out.print(f"worker {name!r} created")
    if credential:
        out.print(f"credential (shown once): {credential}")


@workers_app.command("revoke")
@command
async def workers_revoke(name: str) -> None:
    """Revoke a worker: it is refused from now on and its accounts are taken over."""
    async with services_for(settings(), upgrade=True) as deps:
        await fleet.revoke_worker(deps, name)
    out.print(f"worker {name!r} revoked")


@workers_app.command("firewall")
@command
async def workers_firewall(
    account_id: int | None = typer.Argument(
        None, help="Only what this account's PBX must allow (default: every worker)"
    ),
    fmt: str = typer.Option(
        "plain", "--format", help=f"One of: {', '.join(FORMATS)} (Asterisk/FreePBX: permit=)"
    ),
    as_json: bool = as_json_option(),
) -> None:
    """The addresses and ports a PBX must allow, as text or ready firewall rules."""
    if fmt not in FORMATS:
        raise InvalidInput(f"--format: one of {', '.join(FORMATS)}")
    config = settings()
    sip_port = None
    async with services_for(config, upgrade=True) as deps:
        if account_id is None:
            found = await fleet.list_workers(deps, ttl=config.lease_ttl_seconds)
            entries = [x for w in found if not w.revoked for x in w.addresses]
        else:
            entries, sip_port = await fleet.firewall_and_port(
                deps, account_id, ttl=config.lease_ttl_seconds
            )
    if as_json:
        print_json({"entries": entries, "sip_port": sip_port})
        return
    print(render(entries, fmt, sip_port=sip_port))  # plain stdout: rules are pasted as they are
