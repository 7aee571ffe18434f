"""Checks of what is stored: the database and its migrations, the secret key against the stored
secrets, the caller accounts' sessions.

Invariant: a check changes nothing. It never creates the SQLite file, never generates the key
file (``load_key`` would) and never migrates; it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from telesip.calls.telegram.errors import SessionError
from telesip.calls.telegram.sessions import SessionStore
from telesip.config import Settings
from telesip.config_sources import masked_url
from telesip.doctor.report import Finding, error, first_line, ok, warning
from telesip.domain.errors import TelesipError
from telesip.store import keyring, migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

KEY_HOWTO = (
    "put back the key the secrets were stored with (TELESIP_SECRET_KEY, TELESIP_SECRET_KEY_FILE "
    "or DATA_DIR/secret.key; a backup holds it), or run `telesip secrets rotate --old-key-file`"
)


@dataclass
class Storage:
    """What the storage checks found, for the checks after them."""

    findings: list[Finding] = field(default_factory=list)
    engine: AsyncEngine | None = None  # set when the database answered
    migrated: bool = False  # at the code's heads (the key can be tried on its tables)
    cipher: Cipher | None = None  # the configured key, when there is one


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


async def check_database(settings: Settings, st: Storage) -> None:
    """Reachable, and at the migration heads of this code."""
    url = settings.effective_database_url
    shown = masked_url(url)
    sqlite = _sqlite_file(url)
    if sqlite is not None and not sqlite.exists():
        st.findings.append(
            warning(
                "database",
                f"no database at {sqlite} yet; the first start creates it",
                "if you expected one, check TELESIP_DATA_DIR / TELESIP_DATABASE_URL",
            )
        )
        return
    try:
        engine = create_engine(url)
        state = await migrate.schema_state(engine)
    except TelesipError as exc:
        st.findings.append(
            error(
                "database",
                f"{shown}: {exc.message}",
                "check TELESIP_DATABASE_URL and that the server runs and lets this host in",
            )
        )
        return
    st.engine = engine
    if state.newer:
        st.findings.append(
            error(
                "database",
                f"{state.describe()}: migrated by a newer telesip",
                "upgrade telesip on this machine; an older one refuses to start",
            )
        )
    elif not state.current:
        st.findings.append(
            warning(
                "database",
                f"{shown} is empty",
                "the first start (or `telesip db upgrade`) creates the tables",
            )
        )
    elif not state.at_heads:
        fix = (
            "the next start migrates it; back up first (`telesip backup FILE`)"
            if settings.auto_migrate
            else "TELESIP_AUTO_MIGRATE=0: back up, then run `telesip db upgrade`"
        )
        level = warning if settings.auto_migrate else error
        st.findings.append(level("database", f"{state.describe()}: needs migrating", fix))
    else:
        st.migrated = True
        st.findings.append(ok("database", f"{shown} answers, at the migration heads"))


def _key_material(settings: Settings) -> tuple[str | None, str]:
    """The configured key (without generating one) and where it comes from."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value(), "TELESIP_SECRET_KEY"
    path = settings.data_dir / "secret.key"
    try:
        material = path.read_text().strip() if path.exists() else None
    except OSError as exc:
        return None, f"{path} ({exc.strerror})"
    return material or None, str(path)


async def _has_secrets(engine: AsyncEngine) -> bool:
    """Whether the database holds any secret (whatever key opens it)."""
    return (await keyring.check(engine, Cipher("any key"), None)).tried > 0


async def check_key(settings: Settings, st: Storage) -> None:
    """A key is there and opens the stored secrets (a wrong key is an error, not a traceback)."""
    material, where = _key_material(settings)
    if material is None:
        secrets_stored = False
        if st.engine is not None and st.migrated:
            try:
                secrets_stored = await _has_secrets(st.engine)
            except DBAPIError:
                secrets_stored = False
        if secrets_stored:
            st.findings.append(
                error(
                    "secret key", f"no key ({where} is missing) but secrets are stored", KEY_HOWTO
                )
            )
        else:
            st.findings.append(
                warning(
                    "secret key",
                    f"no key yet: the first start generates {settings.data_dir / 'secret.key'}",
                    "back it up: without it the stored SIP passwords are lost",
                )
            )
        return
    st.cipher = Cipher(material)
    if st.engine is None or not st.migrated:
        st.findings.append(ok("secret key", f"from {where} (no stored secret checked)"))
        return
    try:
        found = await keyring.check(st.engine, st.cipher, settings.data_dir)
    except (DBAPIError, OSError) as exc:
        st.findings.append(
            error("secret key", f"cannot read the stored secrets: {first_line(exc)}")
        )
        return
    if found.failed:
        st.findings.append(
            error(
                "secret key",
                f"the key from {where} does not open {', '.join(found.failed)}: it is not the "
                "key they were stored with",
                KEY_HOWTO,
            )
        )
    elif found.tried:
        st.findings.append(ok("secret key", f"from {where}; opens the stored secrets"))
    else:
        st.findings.append(ok("secret key", f"from {where} (nothing stored yet to try it on)"))


def check_callers(settings: Settings, st: Storage, *, calls: bool) -> list[Finding]:
    """The caller accounts' sessions on this machine are there and readable."""
    name = "caller accounts"
    if not calls:
        return [ok(name, "calls are off in this install (no telesip[calls])")]
    if settings.tg_api_id is None or settings.tg_api_hash is None:
        return [
            warning(
                name,
                "TELESIP_TG_API_ID / TELESIP_TG_API_HASH are unset: calls cannot ring in Telegram",
                "create an app at my.telegram.org and set both (README: Telegram caller accounts)",
            )
        ]
    store = SessionStore(settings.data_dir, st.cipher or Cipher("no key"))
    phones = store.phones()
    if not phones:
        return [
            warning(
                name,
                "none logged in on this machine: calls cannot ring in Telegram",
                "log one in with `telesip telegram login +PHONE`",
            )
        ]
    bad: list[str] = []
    for phone in phones:
        try:
            store.load(phone)
        except SessionError as exc:
            bad.append(exc.message)
    if bad:
        return [
            error(name, "; ".join(bad), "log in again (`telesip telegram login`) or " + KEY_HOWTO)
        ]
    return [ok(name, f"{len(phones)} logged in, sessions readable")]
