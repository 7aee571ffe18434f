"""Everything stored under the service's secret key, in one place: checking that a key opens it,
and re-encrypting all of it under a new key.

What the key encrypts: SIP passwords (``accounts.password_enc``), webhook signing secrets
(``webhooks.secret_enc``), a password typed into a bot conversation not yet finished
(``bot_fsm.data["password"]``, base64 of the token), the bot's journaled updates
(``bot_updates.payload``), the import files waiting for their press
(``pending_imports.content``, compressed then sealed) and the caller accounts' session files
(``DATA_DIR/telegram/*.session``). The key also keys the hashes of the last wrong transfer-back
guesses (``guesses.last_hash``): a rotation forgets them (the failure counts stay).

Rotation (:func:`rotate`) is one database transaction (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: the tables locked against writers), so a process writing a secret under the old key
cannot slip in between. Each secret that the new key already opens is left alone, so a rotation
interrupted after the commit but before the session files were replaced is completed by running
it again with the same two keys. A secret that neither key opens stops everything: nothing is
changed and the error says which secret.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Table, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telesip.domain.errors import ConfigError
from telesip.domain.settings import Secret
from telesip.store import tables
from telesip.store.crypto import Cipher

__all__ = ["COLUMNS", "KeyCheck", "Rotation", "check", "new_key", "rotate", "same_key"]

#: the tables and columns holding a token of the service key, by primary key
COLUMNS: tuple[tuple[Table, str], ...] = (
    (tables.accounts, "password_enc"),
    (tables.webhooks, "secret_enc"),
    (tables.bot_updates, "payload"),  # webhook updates waiting (they may hold typed passwords)
    (tables.pending_imports, "content"),  # files waiting for their Import press (passwords)
    (tables.idempotency_keys, "body"),  # stored answers (a new webhook's signing key)
)
SESSIONS = "telegram"  # DATA_DIR/<this>/*.session


def _opens(cipher: Cipher, token: bytes) -> bool:
    try:
        cipher.unseal(token)
    except ConfigError:
        return False
    return True


@dataclass
class KeyCheck:
    """What :func:`check` found: how many secrets were tried, and which did not open."""

    tried: int = 0
    failed: list[str] = field(default_factory=list)


async def check(engine: AsyncEngine, cipher: Cipher, data_dir: Path | None) -> KeyCheck:
    """Try the key on one stored secret of each kind (the first of each table, every session
    file); never raises for a wrong key, reports it."""
    found = KeyCheck()
    async with engine.connect() as conn:
        for table, column in COLUMNS:
            pk = table.primary_key.columns.values()[0]
            query = select(pk, table.c[column]).where(table.c[column].is_not(None))
            row = (await conn.execute(query.order_by(pk).limit(1))).first()
            if row is not None:
                found.tried += 1
                if not _opens(cipher, bytes(row[1])):
                    found.failed.append(f"{table.name} #{row[0]}")
    for path in _session_files(data_dir):
        found.tried += 1
        if not _opens(cipher, path.read_bytes()):
            found.failed.append(f"session {path.name}")
    return found


def _session_files(data_dir: Path | None) -> list[Path]:
    if data_dir is None or not (data_dir / SESSIONS).is_dir():
        return []
    return sorted((data_dir / SESSIONS).glob("*.session"))


@dataclass
class Rotation:
    """What :func:`rotate` changed (counts of re-encrypted secrets)."""

    rows: dict[str, int] = field(default_factory=dict)  # table -> re-encrypted rows
    conversations: int = 0
    sessions: int = 0
    already_new: int = 0  # secrets the new key already opened (a rotation run again)

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.conversations + self.sessions


class _Rekey:
    def __init__(self, old: Cipher, new: Cipher, result: Rotation) -> None:
        self.old, self.new, self.result = old, new, result

    def token(self, token: bytes, what: str) -> bytes | None:
        """The token under the new key, or None when it already is."""
        if _opens(self.new, token):
            self.result.already_new += 1
            return None
        try:
            return self.new.seal(self.old.unseal(token))  # bytes: a sealed file is not text
        except ConfigError:
            raise ConfigError(
                reason=f"{what} opens with neither the old nor the new key; nothing was changed"
            ) from None


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        names = ", ".join(table.name for table, _ in COLUMNS)
        await conn.execute(text(f"LOCK TABLE {names}, bot_fsm IN SHARE ROW EXCLUSIVE MODE"))


async def _rekey_columns(conn: AsyncConnection, rekey: _Rekey) -> None:
    for table, column in COLUMNS:
        pk = table.primary_key.columns.values()  # one column, or several (idempotency_keys)
        count = 0
        rows = await conn.execute(select(*pk, table.c[column]).where(table.c[column].is_not(None)))
        for *row_id, token in rows.all():
            fresh = rekey.token(bytes(token), f"{table.name} #{'/'.join(map(str, row_id))}")
            if fresh is not None:
                where = [c == v for c, v in zip(pk, row_id, strict=True)]
                await conn.execute(update(table).where(*where).values({column: fresh}))
                count += 1
        rekey.result.rows[table.name] = count


async def _rekey_conversations(conn: AsyncConnection, rekey: _Rekey) -> None:
    rows = (await conn.execute(select(tables.bot_fsm.c.key, tables.bot_fsm.c.data))).all()
    for key, data in rows:
        sealed = data.get("password") if isinstance(data, dict) else None
        if not isinstance(sealed, str):
            continue
        try:
            token = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            continue  # not a sealed secret
        fresh = rekey.token(token, f"bot conversation {key}")
        if fresh is not None:
            new_data: dict[str, Any] = dict(data) | {"password": base64.b64encode(fresh).decode()}
            await conn.execute(
                update(tables.bot_fsm).where(tables.bot_fsm.c.key == key).values(data=new_data)
            )
            rekey.result.conversations += 1


def _stage_sessions(data_dir: Path | None, rekey: _Rekey) -> list[tuple[Path, Path]]:
    """Write each session file's re-encrypted copy beside it (mode 0600); (copy, original)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path in _session_files(data_dir):
            fresh = rekey.token(path.read_bytes(), f"session file {path}")
            if fresh is None:
                continue
            tmp = path.with_suffix(".rekey")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, fresh)
                os.fsync(fd)
            finally:
                os.close(fd)
            staged.append((tmp, path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    return staged


async def rotate(engine: AsyncEngine, data_dir: Path | None, old: Cipher, new: Cipher) -> Rotation:
    """Re-encrypt every stored secret from ``old`` to ``new``: the database in one transaction,
    then the session files (staged before the transaction, replaced after its commit)."""
    result = Rotation()
    rekey = _Rekey(old, new, result)
    staged = _stage_sessions(data_dir, rekey)
    try:
        async with engine.begin() as conn:
            await _lock(conn)
            await _rekey_columns(conn, rekey)
            await _rekey_conversations(conn, rekey)
            await conn.execute(update(tables.guesses).values(last_hash=None, last_prefix_hash=None))
    except BaseException as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, DBAPIError | OSError):
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise ConfigError(
                reason=f"cannot re-encrypt, nothing was changed: {detail[0] if detail else exc}"
            ) from exc
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    result.sessions = len(staged)
    return result


def same_key(a: Cipher, b: Cipher) -> bool:
    """Whether two ciphers use the same key (each opens the other's token)."""
    return _opens(b, a.encrypt(Secret("probe")))


def new_key() -> str:
    """A fresh key (a Fernet key: 32 random bytes, url-safe base64)."""
    return Fernet.generate_key().decode()
