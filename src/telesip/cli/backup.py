"""``telesip backup FILE`` and ``telesip restore FILE``: the database, the secret key, the caller
accounts' sessions and the recordings in one archive (see :mod:`telesip.store.backup`)."""

from __future__ import annotations

from pathlib import Path

import typer

from telesip.cli.common import command, err, out, settings
from telesip.config import Settings
from telesip.store import backup as archive
from telesip.store.crypto import load_key


def _target(config: Settings) -> archive.Target:
    """The installation as the settings name it; never creates a key file (a backup of an
    install with no key has nothing to back up, and a restore brings the backup's key)."""
    from_setting = config.secret_key is not None and bool(config.secret_key.get_secret_value())
    if from_setting:
        key = load_key(
            config.secret_key.get_secret_value() if config.secret_key else None, config.data_dir
        )
    else:
        key_file = config.data_dir / archive.KEY_MEMBER
        key = key_file.read_text().strip() if key_file.exists() else ""
    return archive.Target(
        data_dir=config.data_dir,
        database_url=config.effective_database_url,
        key_material=key,
        key_from_setting=from_setting,
    )


@command
async def backup(
    file: Path = typer.Argument(..., help="The archive to write (a .tar.gz); it holds the key"),
) -> None:
    """Back up the database, the secret key, caller-account sessions and recordings into one
    archive, while the service runs."""
    manifest = await archive.backup(_target(settings()), file)
    out.print(
        f"backup written to {file}: {manifest.backend} database at "
        f"{', '.join(manifest.migrations) or 'no migration'}, {len(manifest.files)} member(s)"
    )
    err.print("[yellow]note:[/] the archive holds the secret key: keep it as safe as the key")


@command
async def restore(
    file: Path = typer.Argument(..., help="An archive written by `telesip backup`"),
    force: bool = typer.Option(False, "--force", help="Overwrite a data directory or database"),
) -> None:
    """Restore an archive into an empty data directory and database (or anything, with --force).
    Stop the service first."""
    done = await archive.restore(_target(settings()), file, force=force)
    m = done.manifest
    out.print(
        f"restored the backup of {m.created_at} (telesip {m.telesip_version}, "
        f"{m.backend} at {', '.join(m.migrations) or 'no migration'}): "
        f"{done.secrets_checked} SIP password(s) decrypt with the restored key, "
        f"{done.files} session and recording file(s)"
    )
