"""``telesip calls prune-recordings``."""

from __future__ import annotations

import typer

from telesip.bootstrap import services_for
from telesip.cli.common import command, out, settings
from telesip.services import recordings

calls_app = typer.Typer(help="Calls: recordings.", no_args_is_help=True)


@calls_app.command("prune-recordings")
@command
async def calls_prune_recordings(
    days: int | None = typer.Option(None, min=1, help="Default: TELESIP_RECORDING_DAYS"),
) -> None:
    """Delete the recordings of calls that ended more than TELESIP_RECORDING_DAYS ago (the
    worker does it every hour)."""
    config = settings()
    async with services_for(config, upgrade=True) as deps:
        gone = await recordings.prune(
            deps, config.data_dir / "recordings", days or config.recording_days
        )
    out.print(f"deleted {gone} recording file(s)")
