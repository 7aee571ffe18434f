"""``telesip secrets rotate``: re-encrypt every stored secret under a new key.

The old key is the configured one (``TELESIP_SECRET_KEY``/``_FILE``, else ``DATA_DIR/secret.key``)
or ``--old-key-file``. The new key is written to disk before anything is re-encrypted, so it is
never lost: ``--new-key-file PATH`` (its content, or a fresh key written there with mode 0600
when the file does not exist), else, when the key is the key file, a fresh key staged in
``DATA_DIR/secret.key.new`` that replaces ``secret.key`` after the commit. Run again with the
same keys, an interrupted rotation completes (:mod:`telesip.store.keyring`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer

from telesip.bootstrap import services_for
from telesip.cli.common import command, settings
from telesip.config import Settings
from telesip.domain.errors import ConfigError
from telesip.store import keyring
from telesip.store.crypto import Cipher

secrets_app = typer.Typer(help="The secret key.", no_args_is_help=True)


def _read_key(path: Path, what: str) -> str:
    try:
        material = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(reason=f"{what} {path}: {reason}") from None
    if not material:
        raise ConfigError(reason=f"{what} {path} is empty")
    return material


def _write_new_key(path: Path) -> str:
    key = keyring.new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ConfigError(reason=f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


@secrets_app.command("rotate")
@command
async def secrets_rotate(
    new_key_file: Path | None = typer.Option(
        None,
        "--new-key-file",
        help="File with the new key; created with a fresh key (mode 0600) if it does not exist. "
        "Needed when the key is set by TELESIP_SECRET_KEY(_FILE)",
    ),
    old_key_file: Path | None = typer.Option(
        None,
        "--old-key-file",
        help="File with the key the secrets are stored under now (default: the configured key)",
    ),
) -> None:
    """Re-encrypt every stored secret (SIP passwords, webhook secrets, caller sessions) under a
    new key, in one transaction. Stop the processes first; start them with the new key."""
    config = settings()
    keys = _resolve(config, new_key_file, old_key_file)
    old, new, staged, from_setting = keys.old, keys.new, keys.staged, keys.from_setting
    key_file = config.data_dir / "secret.key"
    async with services_for(config, upgrade=True) as deps:
        result = await keyring.rotate(deps.engine, config.data_dir, Cipher(old), Cipher(new))
    rows = ", ".join(f"{name}: {n}" for name, n in result.rows.items())
    typer.echo(
        f"re-encrypted {result.total} secrets ({rows}, bot conversations: "
        f"{result.conversations}, session files: {result.sessions})"
        + (f"; {result.already_new} were already under the new key" if result.already_new else "")
    )
    if from_setting:
        typer.echo(
            f"Now set TELESIP_SECRET_KEY_FILE={new_key_file} (and unset TELESIP_SECRET_KEY)."
        )
    else:  # the key file is the configured key: it takes the new one
        if staged is None:
            assert new_key_file is not None
            staged = _copy_private(new, key_file.with_name("secret.key.new"))
        os.replace(staged, key_file)
        typer.echo(f"{key_file} now holds the new key.")
    typer.echo(
        "Every machine that uses this database or these files needs the new key: update them, "
        "then start the processes (`telesip doctor` checks the key)."
    )


@dataclass(frozen=True)
class _Keys:
    old: str
    new: str
    staged: Path | None  # the new key, staged beside the key file it is to replace
    from_setting: bool  # the key is TELESIP_SECRET_KEY(_FILE), not the key file


def _resolve(config: Settings, new_key_file: Path | None, old_key_file: Path | None) -> _Keys:
    """The old and the new key; a fresh new key is on disk before this returns."""
    key_file = config.data_dir / "secret.key"
    from_setting = config.secret_key is not None and bool(config.secret_key.get_secret_value())
    if old_key_file is not None:
        old = _read_key(old_key_file, "--old-key-file")
    elif config.secret_key is not None and from_setting:
        old = config.secret_key.get_secret_value()
    elif key_file.is_file():
        old = _read_key(key_file, "key file")
    else:
        raise ConfigError(
            reason=f"no key to rotate: TELESIP_SECRET_KEY is unset and {key_file} does not exist"
        )
    staged: Path | None = None
    if new_key_file is not None:
        new = (
            _read_key(new_key_file, "--new-key-file")
            if new_key_file.exists()
            else _write_new_key(new_key_file)
        )
    elif from_setting:
        raise ConfigError(
            reason="the key is set by TELESIP_SECRET_KEY: give --new-key-file PATH (a fresh key is "
            "written there when PATH does not exist), then set TELESIP_SECRET_KEY_FILE=PATH"
        )
    else:
        staged = key_file.with_name("secret.key.new")  # an interrupted run left it: resume
        new = _read_key(staged, "staged key") if staged.exists() else _write_new_key(staged)
    if keyring.same_key(Cipher(old), Cipher(new)):
        raise ConfigError(reason="the new key is the same as the old one")
    return _Keys(old, new, staged, from_setting)


def _copy_private(key: str, dest: Path) -> Path:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return dest
