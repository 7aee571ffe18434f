"""Accounts: the rows, the summaries of listings and the one-statement card.

Row locks use ``FOR NO KEY UPDATE`` on PostgreSQL and are no-ops on SQLite; lock order is
one account row first, then at most one user row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from telesip.domain import errors
from telesip.domain.model import Account, Payer
from telesip.domain.readmodels import AccountSummary, CardRead
from telesip.domain.settings import AccountSettings
from telesip.store import fast_reads, tables
from telesip.store.crypto import Cipher
from telesip.store.repositories.common import PENDING
from telesip.store.repositories.workers import Holder, firewall_candidates, worker_live
from telesip.store.rows import account_from_row, offer_from_row_values, settings_values

_ACCOUNT = select(tables.accounts).where(tables.accounts.c.id == bindparam("b_account"))
_ACCOUNT_LOCKED = _ACCOUNT.with_for_update(key_share=True)
_ACCOUNT_OF_OFFER = (
    select(tables.accounts)
    .where(
        tables.accounts.c.id
        == select(tables.offers.c.account_id)
        .where(tables.offers.c.id == bindparam("b_offer"))
        .scalar_subquery()
    )
    .with_for_update(key_share=True)
)
_WRITE_REGISTRATION = (
    update(tables.accounts)
    .where(tables.accounts.c.id == bindparam("b_id"))
    .values(
        reg_state=bindparam("b_state"),
        reg_code=bindparam("b_code"),
        reg_error=bindparam("b_error"),
        reg_next_retry_at=bindparam("b_retry"),
        reg_changed_at=bindparam("b_at"),
    )
)
_MOVE = (
    update(tables.accounts)
    .where(tables.accounts.c.id == bindparam("b_account"))
    .values(
        owner_id=bindparam("b_owner"),
        user_id=bindparam("b_user"),
        payer=bindparam("b_payer"),
        via_link=bindparam("b_via_link"),
        updated_at=bindparam("b_now"),
    )
)


def _duplicate(other: Any) -> Any:
    """Whether another account (``other``: an alias of the table) connects the same line as
    ``accounts`` (R11's identical accounts). The database holds at most one enabled copy of a
    line (``ux_accounts_line_enabled``), so an enabled account's copies are all disabled: for
    it the check looks in the small index of disabled accounts' lines
    (``ix_accounts_identity_disabled``), where its own row is not, instead of finding itself in
    every account's index and reading its row to tell it apart (per account listed: most of a
    thousand-account /softphone's time in PostgreSQL). ``other.id != accounts.id`` in both
    keeps PostgreSQL from hashing every disabled account's line instead. A disabled account's
    copies are looked for in both partial indexes (PostgreSQL has no index of every line:
    migration core_0004)."""
    a = tables.accounts
    another = and_(other.c.identity == a.c.identity, other.c.id != a.c.id)
    disabled_copy = exists().where(another, ~other.c.enabled)
    return case(
        (a.c.enabled, disabled_copy),
        else_=or_(exists().where(another, other.c.enabled), disabled_copy),
    )


def _card_select() -> Any:
    """The whole account card in one statement: the account with its people's labels and the
    duplicate flag, its pending offer, the addresses of the live worker holding its lease,
    and one row per worker that could hold it (the firewall list when none does)."""
    a, w, leases = tables.accounts, tables.workers, tables.leases
    owner, user = aliased(tables.users), aliased(tables.users)
    pending, other, candidate = (
        aliased(tables.offers),
        aliased(tables.accounts),
        aliased(tables.workers),
    )
    holder = (
        select(w.c.addresses)
        .join(leases, and_(leases.c.worker_id == w.c.id, leases.c.instance == w.c.instance))
        .where(leases.c.account_id == a.c.id, worker_live(bindparam("b_live_after")))
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            a,
            owner.c.first_name.label("o_first"),
            owner.c.username.label("o_user"),
            user.c.first_name.label("u_first"),
            user.c.username.label("u_user"),
            _duplicate(other).label("duplicate"),
            *(c.label(f"p_{c.name}") for c in pending.c),
            holder.label("holder_addresses"),
            candidate.c.addresses.label("candidate_addresses"),
        )
        .join(owner, owner.c.id == a.c.owner_id)
        .join(user, user.c.id == a.c.user_id)
        .outerjoin(pending, and_(pending.c.account_id == a.c.id, pending.c.state == PENDING))
        .outerjoin(candidate, firewall_candidates(candidate, a.c.worker, a.c.owner_id))
        .where(a.c.id == bindparam("b_account"))
        .order_by(candidate.c.id)
    )


_CARD = _card_select()


def _line_taken(exc: IntegrityError) -> bool:
    """The unique index of enabled lines refused a write (PostgreSQL names the index; SQLite
    names its column)."""
    text = str(exc.orig)
    return "ux_accounts_line_enabled" in text or "accounts.identity" in text


def _label(first_name: str | None, username: str | None, user_id: int) -> str:
    if username:
        return f"@{username}"
    return first_name or f"id{user_id}"


_SUMMARY_SELECT: Any = None
_OWNED_BY: dict[bool | None, Any] = {}  # Accounts.owned_by's statements, by ``via_link``
_SOFTPHONE_SELECT: Any = None
_PAYERS = {p.value: p for p in Payer}


def _build_summaries(rows: Iterable[Sequence[Any]]) -> list[AccountSummary]:
    """Summaries from the summary statement's rows (processed by SQLAlchemy, or straight from
    the driver: then SQLite's booleans come as 0 and 1)."""
    payers = _PAYERS
    return [
        AccountSummary(
            id_,
            owner_id,
            user_id,
            _label(o_first, o_user, owner_id),
            _label(u_first, u_user, user_id),
            login,
            domain,
            transport,
            port,
            bool(enabled),
            payers[payer],
            bool(via_link),
            bool(duplicate),
            reg_state,
            reg_code,
            reg_error,
            worker,
        )
        for (
            id_,
            owner_id,
            user_id,
            login,
            domain,
            transport,
            port,
            enabled,
            payer,
            via_link,
            reg_state,
            reg_code,
            reg_error,
            worker,
            o_first,
            o_user,
            u_first,
            u_user,
            duplicate,
        ) in rows
    ]


class Accounts:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    async def add(
        self,
        owner_id: int,
        settings: AccountSettings,
        payer: Payer,
        via_link: bool,
        now: datetime,
        *,
        disabled_because: str,
    ) -> tuple[int, bool]:
        """Store a new account and say whether it is enabled: enabled unless another enabled
        copy of its line exists (R11), then disabled with ``disabled_because`` as its
        registration error. The database decides (``ux_accounts_line_enabled``): of two
        creations of one line racing, the second waits for the first to commit and is stored
        disabled (PostgreSQL's ``ON CONFLICT`` on the partial unique index; SQLite has one
        writer at a time)."""
        values = settings_values(settings) | {
            "owner_id": owner_id,
            "user_id": owner_id,
            "payer": payer.value,
            "via_link": via_link,
            "enabled": True,
            "password_enc": self.cipher.encrypt(settings.password),
            "created_at": now,
            "updated_at": now,
        }
        a = tables.accounts
        upsert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        stmt = (
            upsert(a)
            .values(values)
            .on_conflict_do_nothing(index_elements=[a.c.identity], index_where=a.c.enabled)
            .returning(a.c.id)
        )
        added = (await self.conn.execute(stmt)).scalar_one_or_none()
        if added is not None:
            return int(added), True
        values |= {"enabled": False, "reg_state": "disabled", "reg_error": disabled_because[:255]}
        result = await self.conn.execute(insert(a).values(values).returning(a.c.id))
        return int(result.scalar_one()), False

    async def add_many(
        self,
        owner_id: int,
        items: Sequence[tuple[AccountSettings, Payer]],
        now: datetime,
        *,
        chunk: int = 1000,
    ) -> list[int]:
        """Store many new accounts of ``owner_id`` (an import), a multi-row statement per
        ``chunk``; their ids in the order of ``items``."""
        ids: list[int] = []
        stmt = insert(tables.accounts).returning(tables.accounts.c.id, sort_by_parameter_order=True)
        for start in range(0, len(items), chunk):
            values = [
                settings_values(settings)
                | {
                    "owner_id": owner_id,
                    "user_id": owner_id,
                    "payer": payer.value,
                    "via_link": False,
                    "enabled": True,
                    "password_enc": self.cipher.encrypt(settings.password),
                    "created_at": now,
                    "updated_at": now,
                }
                for settings, payer in items[start : start + chunk]
            ]
            result = await self.conn.execute(stmt, values)
            ids += [int(row[0]) for row in result]
        return ids

    async def enabled_copy(self, identity: str, *, other_than: int | None = None) -> int | None:
        """The enabled account connecting this line (``identity``: login@domain:port), if
        any, other than ``other_than`` (R11: one enabled copy per line)."""
        a = tables.accounts
        stmt = select(a.c.id).where(a.c.identity == identity, a.c.enabled)
        if other_than is not None:
            stmt = stmt.where(a.c.id != other_than)
        return await self.conn.scalar(stmt.order_by(a.c.id).limit(1))

    def _decrypted(self, row: Any) -> Account:
        return account_from_row(row, self.cipher.decrypt(row.password_enc))

    async def get(self, account_id: int, *, lock: bool = False) -> Account | None:
        """The account with its decrypted settings (``duplicate`` is left False: the
        summaries compute it)."""
        stmt = _ACCOUNT_LOCKED if lock else _ACCOUNT
        row = (await self.conn.execute(stmt, {"b_account": account_id})).first()
        if row is None:
            return None
        return account_from_row(row, self.cipher.decrypt(row.password_enc))

    async def of_offer(self, offer_id: int) -> Account | None:
        """The account an offer is about, its row locked (one statement)."""
        row = (await self.conn.execute(_ACCOUNT_OF_OFFER, {"b_offer": offer_id})).first()
        if row is None:
            return None
        return account_from_row(row, self.cipher.decrypt(row.password_enc))

    async def update(
        self, account_id: int, now: datetime, *, line: str | None = None, **values: Any
    ) -> None:
        """Change the account's row. ``line`` (login@domain) is given where the change may make
        it an enabled copy of a line another enabled account connects: the database refuses
        that (``ux_accounts_line_enabled``, a check raced past) as ``LineConnected``."""
        values["updated_at"] = now
        stmt = update(tables.accounts).where(tables.accounts.c.id == account_id).values(**values)
        try:
            await self.conn.execute(stmt)
        except IntegrityError as exc:
            if line is not None and _line_taken(exc):
                raise errors.LineConnected(sip=line) from exc
            raise

    async def move(
        self,
        account_id: int,
        owner_id: int,
        user_id: int,
        payer: Payer,
        via_link: bool,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            _MOVE,
            {
                "b_account": account_id,
                "b_owner": owner_id,
                "b_user": user_id,
                "b_payer": payer.value,
                "b_via_link": via_link,
                "b_now": now,
            },
        )

    async def update_settings(
        self, account_id: int, settings: AccountSettings, now: datetime, bump: bool
    ) -> None:
        """The new settings (an enabled account moved onto a line another enabled copy
        connects is refused by the database as ``LineConnected``, see ``update``)."""
        values = settings_values(settings) | {
            "password_enc": self.cipher.encrypt(settings.password)
        }
        if bump:
            values["version"] = tables.accounts.c.version + 1
        await self.update(account_id, now, line=f"{settings.login}@{settings.domain}", **values)

    async def delete(self, account_id: int) -> None:
        await self.conn.execute(delete(tables.accounts).where(tables.accounts.c.id == account_id))

    async def set_registration(
        self,
        account_id: int,
        state: str,
        code: int | None,
        error: str | None,
        next_retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Store a worker's report; False when the account no longer exists."""
        result = await self.conn.execute(
            update(tables.accounts)
            .where(tables.accounts.c.id == account_id)
            .values(
                reg_state=state,
                reg_code=code,
                reg_error=error[:255] if error else None,
                reg_next_retry_at=next_retry_at,
                reg_changed_at=now,
            )
        )
        return result.rowcount == 1

    def _summary_select(self) -> Any:
        # Built once: statements are immutable, and aliasing two tables per call cost about
        # 1 ms of CPU per /softphone or card (measured by the bot benchmark).
        global _SUMMARY_SELECT
        if _SUMMARY_SELECT is None:
            _SUMMARY_SELECT = self._build_summary_select()
        return _SUMMARY_SELECT

    def _build_summary_select(self) -> Any:
        owner = aliased(tables.users)
        user = aliased(tables.users)
        a = tables.accounts
        return (
            select(
                a.c.id,
                a.c.owner_id,
                a.c.user_id,
                a.c.login,
                a.c.domain,
                a.c.transport,
                a.c.port,
                a.c.enabled,
                a.c.payer,
                a.c.via_link,
                a.c.reg_state,
                a.c.reg_code,
                a.c.reg_error,
                a.c.worker,
                owner.c.first_name.label("o_first"),
                owner.c.username.label("o_user"),
                user.c.first_name.label("u_first"),
                user.c.username.label("u_user"),
                _duplicate(aliased(tables.accounts)).label("duplicate"),
            )
            .join(owner, owner.c.id == a.c.owner_id)
            .join(user, user.c.id == a.c.user_id)
            .order_by(a.c.id)
        )

    async def _summaries(self, stmt: Any) -> list[AccountSummary]:
        return _build_summaries((await self.conn.execute(stmt)).all())

    async def softphone(self, user_id: int) -> tuple[list[AccountSummary], list[AccountSummary]]:
        """/softphone in one statement, read through the driver where it can be
        (``store/fast_reads.py``): the accounts ``user_id`` owns (not link-managed) and those
        assigned to them, each in id order."""
        global _SOFTPHONE_SELECT
        if _SOFTPHONE_SELECT is None:
            a = tables.accounts
            who: Any = bindparam("b_user")
            _SOFTPHONE_SELECT = self._summary_select().where(
                or_(
                    and_(a.c.owner_id == who, ~a.c.via_link),
                    and_(a.c.user_id == who, a.c.owner_id != who),
                )
            )
        params = {"b_user": user_id}
        rows = await fast_reads.fetch(self.conn, _SOFTPHONE_SELECT, params)
        if rows is None:
            rows = (await self.conn.execute(_SOFTPHONE_SELECT, params)).all()
        summaries = _build_summaries(rows)
        owned = [s for s in summaries if s.owner_id == user_id]
        return owned, [s for s in summaries if s.owner_id != user_id]

    async def owned_by(
        self, owner_id: int, *, via_link: bool | None = False
    ) -> list[AccountSummary]:
        """The accounts ``owner_id`` owns (only the link-managed or only the others, or all
        with ``via_link`` None), in id order; read through the driver where it can be
        (``store/fast_reads.py``)."""
        stmt = _OWNED_BY.get(via_link)
        if stmt is None:
            a = tables.accounts
            stmt = self._summary_select().where(a.c.owner_id == bindparam("b_owner"))
            if via_link is not None:
                stmt = stmt.where(a.c.via_link if via_link else ~a.c.via_link)
            _OWNED_BY[via_link] = stmt
        params = {"b_owner": owner_id}
        rows = await fast_reads.fetch(self.conn, stmt, params)
        if rows is None:
            rows = (await self.conn.execute(stmt, params)).all()
        return _build_summaries(rows)

    async def assigned_to(self, user_id: int) -> list[AccountSummary]:
        stmt = self._summary_select().where(
            tables.accounts.c.user_id == user_id, tables.accounts.c.owner_id != user_id
        )
        return await self._summaries(stmt)

    async def summaries(
        self, *, limit: int = 1000, after_id: int = 0, owner_ids: Sequence[int] | None = None
    ) -> list[AccountSummary]:
        stmt = self._summary_select().where(tables.accounts.c.id > after_id).limit(limit)
        if owner_ids is not None:
            stmt = stmt.where(tables.accounts.c.owner_id.in_(list(owner_ids)))
        return await self._summaries(stmt)

    async def unused(
        self,
        since: datetime,
        *,
        owner_ids: Sequence[int] | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[AccountSummary]:
        """Enabled accounts unused since ``since`` (R11): created before it, no registration
        change since (a state change; refreshes are none) and no call since; in id order
        after ``after_id``, of ``owner_ids`` only when given."""
        a = tables.accounts
        called = exists().where(
            tables.calls.c.account_id == a.c.id, tables.calls.c.created_at >= since
        )
        stmt = (
            self._summary_select()
            .where(
                a.c.id > after_id,
                a.c.enabled,
                a.c.created_at < since,
                or_(a.c.reg_changed_at.is_(None), a.c.reg_changed_at < since),
                ~called,
            )
            .limit(limit)
        )
        if owner_ids is not None:
            stmt = stmt.where(a.c.owner_id.in_(list(owner_ids)))
        return await self._summaries(stmt)

    async def disable_many(self, account_ids: Sequence[int], now: datetime) -> list[int]:
        """Disable those of these accounts still enabled; returns them (a concurrent caller
        gets the others: each is disabled, and told of, once)."""
        if not account_ids:
            return []
        a = tables.accounts
        rows = await self.conn.execute(
            update(a)
            .where(a.c.id.in_(list(account_ids)), a.c.enabled)
            .values(
                enabled=False,
                reg_state="disabled",
                reg_code=None,
                reg_error=None,
                updated_at=now,
            )
            .returning(a.c.id)
        )
        return sorted(int(r[0]) for r in rows)

    async def card(self, account_id: int, live_after: datetime) -> CardRead | None:
        """The card of an account (see ``_card_select``); ``live_after``: workers seen since
        then are alive. Read through the driver where it can be (``store/fast_reads.py``: the
        bot reads it on every press, and SQLAlchemy's execution cost most of the read)."""
        params = {"b_account": account_id, "b_live_after": live_after}
        rows: Sequence[Any] | None = await fast_reads.fetch_processed(self.conn, _CARD, params)
        if rows is None:
            rows = (await self.conn.execute(_CARD, params)).all()
        if not rows:
            return None
        r = rows[0]
        summary = AccountSummary(
            r.id,
            r.owner_id,
            r.user_id,
            _label(r.o_first, r.o_user, r.owner_id),
            _label(r.u_first, r.u_user, r.user_id),
            r.login,
            r.domain,
            r.transport,
            r.port,
            r.enabled,
            Payer(r.payer),
            r.via_link,
            bool(r.duplicate),
            r.reg_state,
            r.reg_code,
            r.reg_error,
            r.worker,
        )
        pending = None
        if r.p_id is not None:
            m = r._mapping
            pending = offer_from_row_values({c.name: m[f"p_{c.name}"] for c in tables.offers.c})
        if r.holder_addresses is not None:
            firewall = list(r.holder_addresses)
        else:
            firewall = sorted(
                {x for row in rows if row.candidate_addresses for x in row.candidate_addresses}
            )
        return CardRead(summary, pending, firewall, bool(r.record), partial(self._decrypted, r))

    async def summary(self, account_id: int) -> AccountSummary | None:
        found = await self._summaries(
            self._summary_select().where(tables.accounts.c.id == account_id)
        )
        return found[0] if found else None

    async def lock_many(self, ids: Sequence[int]) -> list[Account]:
        """These accounts with their settings, every row locked (``FOR NO KEY UPDATE``), in id
        order: every bulk use case locks its accounts in this one order, so two never wait on
        each other in a cycle (a one-account use case locks one row, then its owner's)."""
        if not ids:
            return []
        a = tables.accounts
        found: list[Account] = []
        ordered = sorted(set(ids))
        for start in range(0, len(ordered), 500):
            stmt = (
                select(a)
                .where(a.c.id.in_(ordered[start : start + 500]))
                .order_by(a.c.id)
                .with_for_update(key_share=True)
            )
            rows = await self.conn.execute(stmt)
            found += [account_from_row(r, self.cipher.decrypt(r.password_enc)) for r in rows]
        return found

    async def many(self, ids: Iterable[int]) -> list[Account]:
        """These accounts with their passwords (workers), in no particular order."""
        rows = await self.conn.execute(
            select(tables.accounts).where(tables.accounts.c.id.in_(list(ids)))
        )
        return [account_from_row(r, self.cipher.decrypt(r.password_enc)) for r in rows]

    async def changed_since(self, since: datetime) -> tuple[set[int], set[int]]:
        """Ids of accounts changed (settings, enabled, created) and deleted since ``since``: one
        cheap indexed query."""
        changed = select(tables.accounts.c.id, literal(False).label("gone")).where(
            tables.accounts.c.updated_at >= since
        )
        # the action written out, not a parameter: the partial index ix_audit_deleted is
        # chosen only when the statement itself says which records it reads
        deleted = select(tables.audit.c.account_id, literal(True).label("gone")).where(
            tables.audit.c.at >= since, tables.audit.c.action == literal_column("'deleted'")
        )
        rows = (await self.conn.execute(union_all(changed, deleted))).all()
        return ({int(r[0]) for r in rows if not r[1]}, {int(r[0]) for r in rows if r[1]})

    async def pin_and_server(
        self, account_id: int
    ) -> tuple[str | None, int, str, int | None] | None:
        """The account's worker pin, owner, transport and port, or None."""
        a = tables.accounts
        row = (
            await self.conn.execute(
                select(a.c.worker, a.c.owner_id, a.c.transport, a.c.port).where(
                    a.c.id == account_id
                )
            )
        ).first()
        return None if row is None else (row.worker, row.owner_id, row.transport, row.port)

    async def registrations(
        self, ids: list[int], holder: Holder | None
    ) -> dict[int, tuple[Any, ...]]:
        """The stored registration (state, code, error, next retry) of these accounts; with a
        ``holder``, only of those it holds a lease on."""
        a = tables.accounts
        query = select(
            a.c.id, a.c.reg_state, a.c.reg_code, a.c.reg_error, a.c.reg_next_retry_at
        ).where(a.c.id.in_(ids))
        if holder is not None:
            query = query.join(
                tables.leases,
                and_(
                    tables.leases.c.account_id == a.c.id,
                    tables.leases.c.worker_id == holder.id,
                    tables.leases.c.instance == holder.instance,
                ),
            )
        return {row.id: tuple(row[1:]) for row in await self.conn.execute(query)}

    async def write_registrations(self, params: list[dict[str, Any]]) -> None:
        """Many reports in one statement executed per row (b_id, b_state, b_code, b_error,
        b_retry, b_at each)."""
        await self.conn.execute(_WRITE_REGISTRATION, params)

    async def with_identities(
        self, owner_id: int, identities: Sequence[str], *, chunk: int = 500
    ) -> tuple[list[Account], set[str]]:
        """For an import: ``owner_id``'s accounts having one of ``identities`` (decrypted, their
        rows locked), and which of ``identities`` other owners hold (R11).

        Statements take ``chunk`` values each (far below any parameter limit). The owner's rows
        are locked last, in ascending id order, so two imports never deadlock, and before the
        caller locks the owner's user row (the lock order of the module docstring)."""
        a = tables.accounts
        pg = self.conn.dialect.name == "postgresql"
        step = 5000 if pg else chunk  # PostgreSQL: one array parameter, not thousands

        def among(column: Any, values: list[Any], kind: Any) -> Any:
            # `= ANY($1)` takes ~3 ms for 500 values where `IN ($1..$500)` took ~250 ms
            return (
                column == any_(bindparam(None, values, type_=ARRAY(kind)))
                if pg
                else column.in_(values)
            )

        wanted = sorted(set(identities))
        ids: list[int] = []
        others: set[str] = set()
        for start in range(0, len(wanted), step):
            part = wanted[start : start + step]
            # enabled and disabled apart: each in its partial index (core_0004)
            found = union_all(
                *(
                    select(a.c.id, a.c.owner_id, a.c.identity).where(
                        among(a.c.identity, part, String), state
                    )
                    for state in (a.c.enabled, ~a.c.enabled)
                )
            )
            for row in await self.conn.execute(found):
                if row.owner_id == owner_id:
                    ids.append(row.id)
                else:
                    others.add(row.identity)
        ids.sort()
        mine: list[Account] = []
        for start in range(0, len(ids), step):
            locked = (
                select(a)
                .where(
                    among(a.c.id, ids[start : start + step], BigInteger), a.c.owner_id == owner_id
                )
                .order_by(a.c.id)
                .with_for_update(key_share=True)
            )
            for full in await self.conn.execute(locked):
                mine.append(account_from_row(full, self.cipher.decrypt(full.password_enc)))
        return mine, others

    async def holders(self, account_ids: set[int]) -> dict[int, tuple[int, int]]:
        """The owner and user of each of these accounts that still exists."""
        if not account_ids:
            return {}
        rows = await self.conn.execute(
            select(
                tables.accounts.c.id, tables.accounts.c.owner_id, tables.accounts.c.user_id
            ).where(tables.accounts.c.id.in_(sorted(account_ids)))
        )
        return {r.id: (r.owner_id, r.user_id) for r in rows}
