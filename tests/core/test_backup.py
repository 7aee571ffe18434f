"""`telesip backup` / `telesip restore`: a round trip on SQLite (taken while the service runs)
and on PostgreSQL gives back every row, every password still decrypts, the sessions and the
recordings are back; a non-empty target, a damaged archive and a wrong key are refused."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from telesip.bootstrap import services_for
from telesip.cli import app
from telesip.config import Settings
from telesip.domain.calls import EndReason
from telesip.services import accounts, calls, links
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.tables import metadata
from tests.conftest import PG_ADMIN_URL, _pg_url
from tests.core.helpers import ALICE, BOB, sip

PASSWORDS = {"100": "first-Pa55", "101": 'sec,ond"Pa55', "102": "third'Pa55"}


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The command from a test that runs a loop already (the command runs its own)."""
    return await asyncio.to_thread(invoke, env, *args)


async def populate(settings: Settings) -> None:
    """Accounts of two people, a link, an assignment and a finished call; a session and a
    recording in the data directory."""
    async with services_for(settings, upgrade=True) as deps:
        ids = [
            await accounts.create_account(deps, ALICE, sip(login, pw))
            for login, pw in PASSWORDS.items()
        ]
        await links.create_link(deps, ALICE, ids[0])
        await accounts.reassign(deps, ALICE, ids[1], BOB)
        call = await calls.request_call(deps, BOB, "+15550100", ids[1])
        await calls.mark_ended(deps, call.id, EndReason.COMPLETED)
    (settings.data_dir / "telegram").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "telegram" / "15550100000.session").write_bytes(b"encrypted session")
    (settings.data_dir / "recordings").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "recordings" / "call-1.wav").write_bytes(b"RIFF" + os.urandom(2000))


#: the running service's own progress (the webhook dispatcher's cursor moves when it starts)
SERVICE_STATE = {"webhook_cursor"}


async def all_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            out = {}
            for table in metadata.sorted_tables:
                if table.name in SERVICE_STATE:
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                rows = (await conn.execute(select(table).order_by(*order))).all()
                out[table.name] = [tuple(r) for r in rows]
            return out
    finally:
        await engine.dispose()


async def decrypted_passwords(url: str, key: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT login, password_enc FROM accounts"))).all()
    finally:
        await engine.dispose()
    cipher = Cipher(key)
    return {login: cipher.decrypt(bytes(token)).reveal() for login, token in rows}


def files(data_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(data_dir).as_posix(): p.read_bytes()
        for top in ("telegram", "recordings")
        for p in sorted((data_dir / top).rglob("*"))
        if p.is_file()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_api(env: dict[str, str]) -> Iterator[None]:
    """`telesip api` on the data directory, answering /healthz, until the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telesip.cli", "api"],
        env=os.environ | env | {"TELESIP_API_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120  # a start on a loaded machine takes a while
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "telesip api did not answer /healthz"
            time.sleep(0.1)  # polling for readiness, not waiting out a race
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def sqlite_env(data_dir: Path) -> dict[str, str]:
    return {"TELESIP_DATA_DIR": str(data_dir), "TELESIP_DATABASE_URL": "", "TELESIP_SECRET_KEY": ""}


async def test_sqlite_round_trip_while_the_service_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = sqlite_env(data)
    settings = Settings(data_dir=data, database_url=None, secret_key=None)
    await populate(settings)
    url = settings.effective_database_url
    before, before_files = await all_rows(url), files(data)
    key = (data / "secret.key").read_text().strip()
    archive = tmp_path / "backups" / "telesip.tar.gz"

    with running_api(env):
        code, out = await run_cli(env, "backup", str(archive))
    assert code == 0, out
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "database/telesip.db", "secret.key"} <= names
    assert "telegram/15550100000.session" in names and "recordings/call-1.wav" in names

    shutil.rmtree(data)
    code, out = await run_cli(env, "restore", str(archive))
    assert code == 0, out
    assert "3 SIP password(s) decrypt" in out
    assert await all_rows(url) == before
    assert files(data) == before_files
    assert (data / "secret.key").read_text().strip() == key
    assert await decrypted_passwords(url, key) == PASSWORDS
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.scalar(text("PRAGMA integrity_check"))) == "ok"
    finally:
        await engine.dispose()

    # a second restore would overwrite: refused without --force, nothing changed
    code, out = await run_cli(env, "restore", str(archive))
    assert code == 1 and "not empty" in out and "--force" in out and "Traceback" not in out
    code, out = await run_cli(env, "restore", str(archive), "--force")
    assert code == 0, out
    assert await all_rows(url) == before


def test_damaged_or_foreign_archives_are_refused(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path / "data")
    # nothing there yet: said, and nothing is created on the way
    code, out = invoke(env, "backup", str(tmp_path / "none.tar.gz"))
    assert code == 1 and "nothing to back up" in out
    assert not (tmp_path / "data").exists() and not (tmp_path / "none.tar.gz").exists()
    code, out = invoke(env, "db", "upgrade")
    assert code == 0, out
    archive = tmp_path / "b.tar.gz"
    code, out = invoke(env, "backup", str(archive))
    assert code == 0, out
    target = sqlite_env(tmp_path / "empty")

    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive at all")
    code, out = invoke(target, "restore", str(junk))
    assert code == 1 and "not a telesip backup" in out

    code, out = invoke(target, "restore", str(tmp_path / "missing.tar.gz"))
    assert code == 1 and "does not exist" in out

    # one byte of the database changed inside the archive: its checksum says so
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for info in src:
            raw = src.extractfile(info)
            data = raw.read() if raw else b""
            if info.name == "database/telesip.db":
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(info, io.BytesIO(data))
    code, out = invoke(target, "restore", str(tampered))
    assert code == 1 and "damaged" in out
    assert not (tmp_path / "empty").exists(), "a refused restore wrote something"

    # a key set in the environment that is not the backup's key
    code, out = invoke(target | {"TELESIP_SECRET_KEY": "another key"}, "restore", str(archive))
    assert code == 1 and "TELESIP_SECRET_KEY" in out


async def _pg_db(admin: Any, name: str) -> str:
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    return _pg_url(name)


@pytest.mark.pg
async def test_postgresql_round_trip(tmp_path: Path, pg_database: str) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed (Debian: postgresql-client)")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    names = [f"telesip_bk_src_{suffix}", f"telesip_bk_dst_{suffix}"]
    try:
        source, target = [await _pg_db(admin, n) for n in names]
        key = "a key set in the environment"
        src_env = {
            "TELESIP_DATA_DIR": str(tmp_path / "a"),
            "TELESIP_DATABASE_URL": source,
            "TELESIP_SECRET_KEY": key,
        }
        await populate(Settings(data_dir=tmp_path / "a", database_url=source, secret_key=key))
        before = await all_rows(source)
        archive = tmp_path / "pg.tar.gz"
        code, out = await run_cli(src_env, "backup", str(archive))
        assert code == 0, out
        with tarfile.open(archive) as tar:
            assert "database/telesip.pgdump" in tar.getnames()

        dst_env = src_env | {
            "TELESIP_DATA_DIR": str(tmp_path / "b"),
            "TELESIP_DATABASE_URL": target,
        }
        code, out = await run_cli(dst_env, "restore", str(archive))
        assert code == 0, out
        assert await all_rows(target) == before
        assert await decrypted_passwords(target, key) == PASSWORDS
        assert files(tmp_path / "b") == files(tmp_path / "a")
        assert not (tmp_path / "b" / "secret.key").exists()  # the key stays in the setting

        code, out = await run_cli(dst_env, "restore", str(archive))
        assert code == 1 and "has tables" in out
        code, out = await run_cli(dst_env, "restore", str(archive), "--force")
        assert code == 0, out
        assert await all_rows(target) == before

        # a SQLite target for a PostgreSQL backup: said plainly
        code, out = await run_cli(
            sqlite_env(tmp_path / "c") | {"TELESIP_SECRET_KEY": key}, "restore", str(archive)
        )
        assert code == 1 and "postgresql database" in out
    finally:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
