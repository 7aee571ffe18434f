"""``telesip db upgrade|current``: the schema migrations."""

from __future__ import annotations

import typer

from telesip.bootstrap import services_for
from telesip.cli.common import as_json_option, command, out, print_json, settings
from telesip.store import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
@command
async def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply the schema migrations."""
    async with services_for(settings()) as deps:
        await migrate.upgrade(deps.engine, revision)
        out.print(f"database at {', '.join(await migrate.current_revisions(deps.engine))}")


@db_app.command("current")
@command
async def db_current(as_json: bool = as_json_option()) -> None:
    """Show the schema revision."""
    async with services_for(settings()) as deps:
        revisions = list(await migrate.current_revisions(deps.engine))
    code = list(migrate.head_revisions())
    if as_json:
        print_json({"current": revisions, "code": code})
        return
    out.print(f"current: {', '.join(revisions) or 'empty'}; code: {', '.join(code)}")
