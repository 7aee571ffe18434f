"""One archive holds everything a telesip installation cannot lose, and puts it back.

``backup`` writes a gzip'd tar with a ``manifest.json`` (archive format, telesip version, the
database's migration revisions, creation time, backend, and a SHA-256 per member), the database
(SQLite through its online backup API, so the service keeps running; PostgreSQL through
``pg_dump --format=custom``), the secret key that decrypts the SIP passwords, the caller
accounts' session files and the call recordings. The archive is written to a temporary file with
mode 0600 and renamed into place: it holds the key, so it is as secret as the key itself.

``restore`` checks the manifest and every member's digest before it writes anything, then puts
the database and the files back into an empty data directory (and an empty PostgreSQL database);
it refuses to overwrite anything without ``force``. A restored database older than the code is
migrated by the next start (or ``telesip db upgrade``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from telesip.domain.errors import BackupError, TelesipError
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/telesip.db"
PG_MEMBER = "database/telesip.pgdump"
KEY_MEMBER = "secret.key"
#: directories of the data directory that go into the archive as they are
FILE_DIRS = ("telegram", "recordings")


@dataclass(frozen=True)
class Manifest:
    """What an archive says about itself."""

    format: int
    telesip_version: str
    created_at: str
    backend: str
    migrations: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)  # member name -> sha256 hex

    def to_json(self) -> bytes:
        body = {
            "format": self.format,
            "telesip_version": self.telesip_version,
            "created_at": self.created_at,
            "backend": self.backend,
            "migrations": list(self.migrations),
            "files": self.files,
        }
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            return cls(
                format=int(body["format"]),
                telesip_version=str(body["telesip_version"]),
                created_at=str(body["created_at"]),
                backend=str(body["backend"]),
                migrations=tuple(str(r) for r in body["migrations"]),
                files={str(k): str(v) for k, v in dict(body["files"]).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(reason=f"the archive's manifest is damaged ({exc})") from None


@dataclass(frozen=True)
class Target:
    """Where an installation keeps its state: the data directory and the database."""

    data_dir: Path
    database_url: str
    key_material: str  # the secret key in use (TELESIP_SECRET_KEY or DATA_DIR/secret.key)
    key_from_setting: bool = False  # the key comes from TELESIP_SECRET_KEY, not the key file

    @property
    def url(self) -> URL:
        return make_url(self.database_url)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.database or "")


def telesip_version() -> str:
    try:
        return version("telesip")
    except PackageNotFoundError:  # running from a source tree without an install
        return "unknown"


# ---------------------------------------------------------------- backup


async def backup(target: Target, archive: Path, *, now: datetime | None = None) -> Manifest:
    """Write ``archive`` while the service may be running; returns its manifest."""
    if target.backend == "sqlite" and not target.sqlite_path.is_file():
        raise BackupError(
            reason=f"there is no database at {target.sqlite_path}: nothing to back up (is "
            "TELESIP_DATA_DIR or TELESIP_DATABASE_URL the service's?)"
        )
    if not target.key_material:
        raise BackupError(
            reason=f"no secret key: {target.data_dir / KEY_MEMBER} does not exist and "
            "TELESIP_SECRET_KEY is unset, so the stored passwords could not be read back (is "
            "TELESIP_DATA_DIR the service's?)"
        )
    migrations = await _current_revisions(target.database_url)
    with tempfile.TemporaryDirectory(prefix="telesip-backup-") as tmp:
        work = Path(tmp)
        if target.backend == "sqlite":
            db_member = SQLITE_MEMBER
            await asyncio.to_thread(_sqlite_snapshot, target.sqlite_path, work / "db")
        else:
            db_member = PG_MEMBER
            await asyncio.to_thread(_pg_dump, target.url, work / "db")
        members: list[tuple[str, Path | bytes]] = [
            (db_member, work / "db"),
            (KEY_MEMBER, (target.key_material + "\n").encode()),
        ]
        members += [(name, path) for name, path in _data_files(target.data_dir)]
        files = {name: _digest(content) for name, content in members}
        manifest = Manifest(
            format=FORMAT,
            telesip_version=telesip_version(),
            created_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
            backend=target.backend,
            migrations=migrations,
            files=files,
        )
        await asyncio.to_thread(_write_archive, archive, manifest, members)
    return manifest


async def _current_revisions(url: str) -> tuple[str, ...]:
    engine = create_engine(url)
    try:
        return await migrate.current_revisions(engine)
    except TelesipError:
        raise
    except Exception as exc:
        raise BackupError(reason=f"the database cannot be read: {_first_line(exc)}") from None
    finally:
        await engine.dispose()


def _sqlite_snapshot(source: Path, dest: Path) -> None:
    """A consistent copy through SQLite's online backup API (writers keep going under WAL)."""
    if not source.is_file():
        raise BackupError(reason=f"there is no database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        with dst:
            src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
    except sqlite3.Error as exc:
        raise BackupError(reason=f"SQLite backup of {source} failed: {exc}") from None
    finally:
        dst.close()
        src.close()


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the PostgreSQL tools; the password goes in the environment,
    never on a command line that `ps` shows."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", url.database or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            reason=f"{name} is not installed: install PostgreSQL's client tools of the server's "
            "major version (Debian: apt-get install postgresql-client)"
        )
    return path


def _pg_dump(url: URL, dest: Path) -> None:
    args, env = _libpq(url)
    cmd = [
        _tool("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--file",
        str(dest),
    ]
    _run_tool([*cmd, *args], env, "pg_dump")


def _run_tool(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise BackupError(reason=f"{what} failed: {lines[0] if lines else done.returncode}")


def _data_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    for top in FILE_DIRS:
        base = data_dir / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".part"):  # a recording being written
                yield PurePosixPath(top, path.relative_to(base).as_posix()).as_posix(), path


def _digest(content: Path | bytes) -> str:
    h = hashlib.sha256()
    if isinstance(content, bytes):
        h.update(content)
    else:
        with content.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _write_archive(
    archive: Path, manifest: Manifest, members: list[tuple[str, Path | bytes]]
) -> None:
    archive = archive.resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".telesip-backup-", dir=archive.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, manifest.to_json())
            for name, content in members:
                if isinstance(content, bytes):
                    _add_bytes(tar, name, content)
                else:
                    info = tar.gettarinfo(str(content), arcname=name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with content.open("rb") as fh:
                        tar.addfile(info, fh)
        os.replace(tmp, archive)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(reason=f"cannot write {archive}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


# ---------------------------------------------------------------- restore


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    files: int  # session files and recordings put back
    secrets_checked: int  # stored SIP passwords that decrypt with the restored key


async def read_manifest(archive: Path) -> Manifest:
    return await asyncio.to_thread(_read_manifest, archive)


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except FileNotFoundError:
        raise BackupError(reason=f"{archive} does not exist") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(reason=f"{archive} is not a telesip backup ({exc})") from None


def _read_manifest(archive: Path) -> Manifest:
    with _open(archive) as tar:
        try:
            fh = tar.extractfile(MANIFEST)
        except KeyError:
            fh = None
        if fh is None:
            raise BackupError(reason=f"{archive} is not a telesip backup (no {MANIFEST})")
        manifest = Manifest.from_json(fh.read())
    if manifest.format != FORMAT:
        raise BackupError(
            reason=f"{archive} is backup format {manifest.format}; this telesip reads {FORMAT}"
        )
    return manifest


async def restore(target: Target, archive: Path, *, force: bool = False) -> Restored:
    """Put ``archive`` back into ``target``; refuses a non-empty target unless ``force``."""
    with tempfile.TemporaryDirectory(prefix="telesip-restore-") as tmp:
        staged = Path(tmp)
        manifest = await asyncio.to_thread(_unpack_verified, archive, staged)
        if manifest.backend != target.backend:
            raise BackupError(
                reason=f"this backup holds a {manifest.backend} database and TELESIP_DATABASE_URL "
                f"names a {target.backend} one: restore into the same kind of database"
            )
        key = (staged / KEY_MEMBER).read_text().strip()
        if target.key_from_setting and key != target.key_material:
            raise BackupError(
                reason="TELESIP_SECRET_KEY is not the key this backup was made with: unset it "
                "(the backup's key is restored to DATA_DIR/secret.key) or set it to that key"
            )
        if not force:
            problems = await _not_empty(target, key)
            if problems:
                raise BackupError(
                    reason="the target is not empty ("
                    + "; ".join(problems)
                    + "): restore into an empty data directory and database, or pass --force"
                )
        if target.backend == "sqlite":
            await asyncio.to_thread(_sqlite_put, staged / SQLITE_MEMBER, target.sqlite_path)
        else:
            await asyncio.to_thread(_pg_restore, staged / PG_MEMBER, target.url, force)
        files = await asyncio.to_thread(_put_files, staged, target, key, force)
    checked = await _check_secrets(target.database_url, key)
    return Restored(manifest=manifest, files=files, secrets_checked=checked)


def _unpack_verified(archive: Path, dest: Path) -> Manifest:
    manifest = _read_manifest(archive)
    with _open(archive) as tar:
        seen: set[str] = set()
        for info in tar:
            if info.name == MANIFEST:
                continue
            if info.name not in manifest.files or not info.isfile():
                raise BackupError(reason=f"{archive}: unexpected member {info.name!r}")
            fh = tar.extractfile(info)
            if fh is None:  # pragma: no cover - isfile() checked above
                continue
            path = dest / PurePosixPath(info.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            with path.open("wb") as out:
                for chunk in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != manifest.files[info.name]:
                raise BackupError(reason=f"{archive}: {info.name} is damaged (checksum differs)")
            seen.add(info.name)
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise BackupError(reason=f"{archive} is incomplete: {', '.join(missing[:3])} missing")
    return manifest


async def _not_empty(target: Target, key: str) -> list[str]:
    problems: list[str] = []
    if target.backend == "sqlite":
        if target.sqlite_path.exists() and target.sqlite_path.stat().st_size > 0:
            problems.append(f"{target.sqlite_path} exists")
    elif await _pg_has_tables(target.database_url):
        problems.append("the PostgreSQL database has tables")
    key_file = target.data_dir / KEY_MEMBER
    if not target.key_from_setting and key_file.exists() and key_file.read_text().strip() != key:
        problems.append(f"{key_file} holds another key")
    for top in FILE_DIRS:
        base = target.data_dir / top
        if base.is_dir() and any(p.is_file() for p in base.rglob("*")):
            problems.append(f"{base} has files")
    return problems


async def _pg_has_tables(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            )
        return bool(found)
    except Exception as exc:
        raise BackupError(reason=f"the database cannot be reached: {_first_line(exc)}") from None
    finally:
        await engine.dispose()


def _sqlite_put(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".restoring")
    shutil.copyfile(source, tmp)
    for suffix in ("-wal", "-shm"):  # the old file's log must not be replayed onto the new one
        dest.with_name(dest.name + suffix).unlink(missing_ok=True)
    os.replace(tmp, dest)


def _pg_restore(dump: Path, url: URL, force: bool) -> None:
    args, env = _libpq(url)
    cmd = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    cmd += ["--single-transaction"]
    if force:
        cmd += ["--clean", "--if-exists"]
    _run_tool([*cmd, *args, str(dump)], env, "pg_restore")


def _put_files(staged: Path, target: Target, key: str, force: bool) -> int:
    data_dir = target.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    if not target.key_from_setting:
        key_file = data_dir / KEY_MEMBER
        key_file.unlink(missing_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
    count = 0
    for top in FILE_DIRS:
        source = staged / top
        dest = data_dir / top
        if force and dest.is_dir():
            shutil.rmtree(dest)
        if not source.is_dir():
            continue
        dest.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in sorted(source.rglob("*")):
            if path.is_file():
                out = dest / path.relative_to(source)
                out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                shutil.copyfile(path, out)
                out.chmod(0o600)
                count += 1
    return count


async def _check_secrets(url: str, key: str) -> int:
    """Every stored SIP password decrypts with the restored key (else the backup is useless)."""
    cipher = Cipher(key)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT password_enc FROM accounts"))).all()
    except Exception as exc:
        raise BackupError(
            reason=f"the restored database cannot be read: {_first_line(exc)}"
        ) from None
    finally:
        await engine.dispose()
    with contextlib.suppress(TelesipError):
        for (token,) in rows:
            cipher.decrypt(bytes(token))
        return len(rows)
    raise BackupError(reason="the restored key does not decrypt the restored passwords")


def _first_line(exc: BaseException) -> str:
    raw = str(getattr(exc, "orig", None) or exc).strip()
    return raw.splitlines()[0] if raw else type(exc).__name__
