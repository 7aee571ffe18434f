"""``telesip accounts links|disable|enable|delete|assign``: many of an owner's accounts at once
(docs/bulk.md), through ``services.bulk`` (all or nothing, audited per account).

The accounts are given as IDs or as a group (``--group unassigned|enabled|disabled|unused``);
disable, enable and delete ask "Disable 37 accounts? [y/N]" first (``--yes`` answers for a
script). ``links`` writes the links' CSV and the printable sheet (PDF, or PNG pages) to files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer
from rich.markup import escape

from telesip.bootstrap import services_for
from telesip.cli.common import as_json_option, command, err, out, print_json, settings
from telesip.domain import errors
from telesip.printing import Card, links_csv, pdf, png_pages
from telesip.services import bulk
from telesip.services.dependencies import Dependencies

OWNER = typer.Option(..., "--owner", help="Telegram id of the accounts' owner")
IDS = typer.Argument(None, help="Account IDs (or use --group)", show_default=False)
GROUP = typer.Option(
    None, "--group", help="unassigned (enabled, not handed out), enabled, disabled or unused"
)
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation")
Action = Literal["disable", "enable", "delete"]


async def _selected(
    deps: Dependencies, owner: int, ids: list[int] | None, group: str | None
) -> list[int]:
    if bool(ids) == bool(group):
        raise errors.InvalidInput("Give account IDs or --group, not both or neither.")
    if group is not None:
        if group not in ("unassigned", "enabled", "disabled", "unused"):
            raise errors.InvalidInput(
                "--group is unassigned, enabled, disabled or unused, not " + repr(group[:40])
            )
        which = cast(bulk.Group, group)
        return [a.id for a in await bulk.group(deps, None, owner, which)]
    return await bulk.chosen(deps, None, owner, ids or [])


def _confirm(action: Action, count: int, yes: bool) -> None:
    noun = "account" if count == 1 else "accounts"
    if yes:
        return
    if not typer.confirm(f"{action.capitalize()} {count} {noun}?", default=False):
        err.print("Nothing was changed.")
        raise typer.Exit(1)


async def _change(
    action: Action, owner: int, ids: list[int] | None, group: str | None, yes: bool, as_json: bool
) -> None:
    async with services_for(settings(), upgrade=True) as deps:
        chosen = await _selected(deps, owner, ids, group)
        if not chosen:
            out.print("No accounts selected: nothing to do.")
            return
        _confirm(action, len(chosen), yes)
        if action == "delete":
            done = await bulk.delete(deps, None, owner, chosen)
        else:
            done = await bulk.set_enabled(deps, None, owner, chosen, action == "enable")
    if as_json:
        print_json({"changed": list(done.changed), "unchanged": list(done.unchanged)})
        return
    verb = {"disable": "Disabled", "enable": "Enabled", "delete": "Deleted"}[action]
    already = f" ({len(done.unchanged)} already so)" if done.unchanged else ""
    out.print(f"{verb}: {len(done.changed)}{already}.")


def _write_files(cards: list[Card], csv_file: Path | None, sheet: Path | None, lang: str) -> None:
    if csv_file is not None:
        csv_file.write_bytes(links_csv(cards))
    if sheet is not None:
        if sheet.suffix.lower() == ".png":
            for n, page in enumerate(png_pages(cards, lang), start=1):
                sheet.with_name(f"{sheet.stem}-{n}.png").write_bytes(page)
        else:
            sheet.write_bytes(pdf(cards, lang))


def register(app: typer.Typer) -> None:
    """Add the bulk commands to ``telesip accounts``."""

    @app.command("disable")
    @command
    async def disable(
        ids: list[int] | None = IDS,
        owner: int = OWNER,
        group: str | None = GROUP,
        yes: bool = YES,
        as_json: bool = as_json_option(),
    ) -> None:
        """Disable many accounts (they unregister), all or nothing."""
        await _change("disable", owner, ids, group, yes, as_json)

    @app.command("enable")
    @command
    async def enable(
        ids: list[int] | None = IDS,
        owner: int = OWNER,
        group: str | None = GROUP,
        yes: bool = YES,
        as_json: bool = as_json_option(),
    ) -> None:
        """Enable many accounts, all or nothing (refused whole when one is a copy of a line
        another enabled account connects)."""
        await _change("enable", owner, ids, group, yes, as_json)

    @app.command("delete")
    @command
    async def delete(
        ids: list[int] | None = IDS,
        owner: int = OWNER,
        group: str | None = GROUP,
        yes: bool = YES,
        as_json: bool = as_json_option(),
    ) -> None:
        """Delete many accounts everywhere (R10), all or nothing."""
        await _change("delete", owner, ids, group, yes, as_json)

    @app.command("links")
    @command
    async def links(
        ids: list[int] | None = IDS,
        owner: int = OWNER,
        group: str | None = GROUP,
        csv_file: Path | None = typer.Option(None, "--csv", help="Write the links as CSV here"),
        sheet: Path | None = typer.Option(
            None, "--sheet", help="Write the printable sheet here: .pdf, or .png (one file a page)"
        ),
        bot: str | None = typer.Option(
            None, "--bot", help="The bot's @username for t.me links (default: asked from Telegram)"
        ),
        lang: str = typer.Option("en", "--lang", help="Language of the cards: en or ru"),
        as_json: bool = as_json_option(),
    ) -> None:
        """Settings links (R9) for many accounts at once, e.g. --group unassigned: each
        replaces the account's unused link; the accounts move to the links section."""
        config = settings()
        if bot is None:
            from telesip.api.app import bot_username

            bot = await bot_username(config)
        if not bot:
            raise errors.ConfigError(
                reason="no bot username for t.me links: set TELESIP_BOT_TOKEN or pass --bot"
            )
        bot = bot.lstrip("@")
        async with services_for(config, upgrade=True) as deps:
            chosen = await _selected(deps, owner, ids, group)
            if not chosen:
                out.print("No accounts selected: nothing to do.")
                return
            made = await bulk.create_links(deps, None, owner, chosen)
        cards = [Card.of(m, f"https://t.me/{bot}?start={m.token}") for m in made]
        _write_files(cards, csv_file, sheet, lang)
        if as_json:
            print_json(
                [
                    {"account_id": c.account_id, "name": c.name, "url": c.url}
                    | {"expires_at": c.expires_at}
                    for c in cards
                ]
            )
            return
        out.print(
            f"Settings links: {len(cards)}, valid until {made[0].expires_at:%Y-%m-%d %H:%M} UTC."
        )
        if csv_file is None and sheet is None:
            for c in cards:
                out.print(f"#{c.account_id} {escape(c.name)}: {c.url}")
        for path in (csv_file, sheet):
            if path is not None:
                out.print(f"Written: {escape(str(path))}")

    @app.command("assign")
    @command
    async def assign(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        owner: int = OWNER,
        as_json: bool = as_json_option(),
    ) -> None:
        """Assign many accounts from a CSV of (account, Telegram user): the account's ID or
        login, the person's Telegram id or @username (they must have started the bot). One bad
        line and nothing is assigned."""
        async with services_for(settings(), upgrade=True) as deps:
            with file.open("rb") as stream:
                done = await bulk.assign_file(deps, None, owner, stream)
        if as_json:
            print_json({"changed": list(done.changed), "unchanged": list(done.unchanged)})
            return
        out.print(f"Assigned: {len(done.changed)}. Already assigned so: {len(done.unchanged)}.")
