"""Repositories: every query the services run, as SQLAlchemy Core statements.

Hot paths (offer, receive, transfer back, listings) do each step in one statement. Row locks
use ``FOR NO KEY UPDATE`` on PostgreSQL (foreign-key checks still pass) and are no-ops on
SQLite, where ``BEGIN IMMEDIATE`` already serialises writers. Lock order, to rule out
deadlocks: at most one account row first, then at most one user row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from telesip.domain.guessing import GuessState
from telesip.domain.model import (
    Account,
    Offer,
    OfferState,
    Payer,
    SettingsLink,
    TelegramUser,
)
from telesip.domain.plans import Subscription
from telesip.domain.settings import AccountSettings
from telesip.store import tables as t
from telesip.store.crypto import Cipher
from telesip.store.rows import (
    account_from_row,
    link_from_row,
    offer_from_row,
    offer_from_row_values,
    settings_values,
)

# The hot path's statements are built once: building a statement costs about as much CPU as
# running it (bound values go in as parameters; the compiled form is cached by SQLAlchemy).
P = bindparam
_ACCOUNT = select(t.accounts).where(t.accounts.c.id == P("b_account"))
_ACCOUNT_LOCKED = _ACCOUNT.with_for_update(key_share=True)
_ACCOUNT_OF_OFFER = (
    select(t.accounts)
    .where(
        t.accounts.c.id
        == select(t.offers.c.account_id).where(t.offers.c.id == P("b_offer")).scalar_subquery()
    )
    .with_for_update(key_share=True)
)
_MOVE = (
    update(t.accounts)
    .where(t.accounts.c.id == P("b_account"))
    .values(
        owner_id=P("b_owner"),
        user_id=P("b_user"),
        payer=P("b_payer"),
        via_link=P("b_via_link"),
        updated_at=P("b_now"),
    )
)
_SUBSCRIPTIONS = (
    select(t.subscriptions)
    .where(t.subscriptions.c.user_id == P("b_user"))
    .order_by(t.subscriptions.c.id)
)
_OFFER = select(t.offers).where(t.offers.c.id == P("b_offer"))
_OFFER_ADD = insert(t.offers).returning(t.offers.c.id)
_OFFER_ACCEPT = (
    update(t.offers)
    .where(
        t.offers.c.id == P("b_offer"),
        t.offers.c.state == "pending",
        t.offers.c.expires_at > P("b_now"),
    )
    .values(state="accepted", recipient_id=P("b_recipient"), decided_at=P("b_now"))
)
_OFFERS_CLOSE = (
    update(t.offers)
    .where(t.offers.c.account_id == P("b_account"), t.offers.c.state == "pending")
    .values(
        state=case((t.offers.c.expires_at <= P("b_now"), "expired"), else_=P("b_state")),
        decided_at=P("b_now"),
    )
    .returning(t.offers.c.id)
)
_OFFER_LAST_GIVEN = (
    select(t.offers)
    .where(
        t.offers.c.account_id == P("b_account"),
        t.offers.c.state == "accepted",
        t.offers.c.method == P("b_method"),
        t.offers.c.sender_id == P("b_sender"),
    )
    .order_by(t.offers.c.id.desc())
    .limit(1)
)
_AUDIT_ADD = insert(t.audit)
_GUESS = select(t.guesses).where(
    t.guesses.c.user_id == P("b_user"), t.guesses.c.account_id == P("b_account")
)
_ENSURE_USER = {
    name: dialect.insert(t.users)
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(t.users.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def worker_live(live_after: Any) -> Any:
    """SQL condition: the ``t.workers`` row is alive (not revoked, running, seen after
    ``live_after``: a value or a bound parameter)."""
    w = t.workers
    return and_(w.c.revoked_at.is_(None), w.c.instance.is_not(None), w.c.last_seen > live_after)


def firewall_candidates(w: Any, pin: Any, owner_id: Any) -> Any:
    """SQL condition: a row of ``w`` (the workers table or an alias) that may register an
    account pinned to ``pin`` (its name or pool; a worker made in the bot serves only its
    owner's accounts) or, unpinned, any shared local worker. ``pin`` and ``owner_id`` are
    columns or literals."""
    pinned = and_(pin.is_not(None), pin != "")
    return and_(
        w.c.revoked_at.is_(None),
        or_(
            and_(
                pinned,
                or_(w.c.name == pin, w.c.pool == pin),
                or_(w.c.owner_id.is_(None), w.c.owner_id == owner_id),
            ),
            and_(~pinned, w.c.shared, ~w.c.remote),
        ),
    )


def _card_select() -> Any:
    """The whole account card in one statement: the account with its people's labels and the
    duplicate flag, its pending offer, the addresses of the live worker holding its lease,
    and one row per worker that could hold it (the firewall list when none does)."""
    a, w, leases = t.accounts, t.workers, t.leases
    owner, user = aliased(t.users), aliased(t.users)
    pending, other, candidate = aliased(t.offers), aliased(t.accounts), aliased(t.workers)
    holder = (
        select(w.c.addresses)
        .join(leases, and_(leases.c.worker_id == w.c.id, leases.c.instance == w.c.instance))
        .where(leases.c.account_id == a.c.id, worker_live(P("b_live_after")))
        .limit(1)
        .scalar_subquery()
    )
    duplicate = exists().where(other.c.identity == a.c.identity, other.c.id != a.c.id)
    return (
        select(
            a,
            owner.c.first_name.label("o_first"),
            owner.c.username.label("o_user"),
            user.c.first_name.label("u_first"),
            user.c.username.label("u_user"),
            duplicate.label("duplicate"),
            *(c.label(f"p_{c.name}") for c in pending.c),
            holder.label("holder_addresses"),
            candidate.c.addresses.label("candidate_addresses"),
        )
        .join(owner, owner.c.id == a.c.owner_id)
        .join(user, user.c.id == a.c.user_id)
        .outerjoin(pending, and_(pending.c.account_id == a.c.id, pending.c.state == "pending"))
        .outerjoin(candidate, firewall_candidates(candidate, a.c.worker, a.c.owner_id))
        .where(a.c.id == P("b_account"))
        .order_by(candidate.c.id)
    )


_CARD = _card_select()


@dataclass(frozen=True)
class CardRead:
    """What the account card shows, read in one statement; the settings (and so the
    password) are decrypted only when asked for."""

    summary: AccountSummary
    pending: Offer | None
    firewall: list[str]
    row: Any = field(repr=False)
    cipher: Cipher = field(repr=False)

    def account(self) -> Account:
        return account_from_row(self.row, self.cipher.decrypt(self.row.password_enc))


def _dialect_insert(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class Users:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def ensure(
        self, user: TelegramUser, now: datetime, default_plan: str, seats: int | None
    ) -> bool:
        """Insert the user if new (with the default plan); True when it was new."""
        values = {
            "id": user.id,
            "first_name": user.first_name[:128],
            "username": user.username,
            "language_code": user.language_code,
            "created_at": now,
        }
        stmt = _ENSURE_USER[self.conn.dialect.name]
        inserted = (await self.conn.execute(stmt, values)).first() is not None
        if inserted:
            await self.conn.execute(
                insert(t.subscriptions).values(
                    user_id=user.id, plan=default_plan, seats=seats, created_at=now
                )
            )
        return inserted

    async def get(self, user_id: int) -> TelegramUser | None:
        row = (await self.conn.execute(select(t.users).where(t.users.c.id == user_id))).first()
        if row is None:
            return None
        return TelegramUser(row.id, row.first_name, row.username, row.language_code)

    async def lock(self, user_id: int) -> None:
        await self.conn.execute(
            select(t.users.c.id).where(t.users.c.id == user_id).with_for_update(key_share=True)
        )

    async def subscriptions(self, user_id: int) -> list[Subscription]:
        rows = await self.conn.execute(_SUBSCRIPTIONS, {"b_user": user_id})
        return [Subscription(r.id, r.user_id, r.plan, r.seats) for r in rows]

    async def usage(self, owner_id: int) -> dict[Payer, int]:
        rows = await self.conn.execute(
            select(t.accounts.c.payer, func.count())
            .where(t.accounts.c.owner_id == owner_id)
            .group_by(t.accounts.c.payer)
        )
        return {Payer(payer): count for payer, count in rows}

    async def set_subscription(
        self, user_id: int, plan: str, seats: int | None, now: datetime
    ) -> None:
        """One subscription per plan: replace that plan's seats, keep the others."""
        await self.conn.execute(
            delete(t.subscriptions).where(
                t.subscriptions.c.user_id == user_id, t.subscriptions.c.plan == plan
            )
        )
        await self.conn.execute(
            insert(t.subscriptions).values(user_id=user_id, plan=plan, seats=seats, created_at=now)
        )

    async def clear_subscriptions(self, user_id: int) -> None:
        await self.conn.execute(delete(t.subscriptions).where(t.subscriptions.c.user_id == user_id))

    async def remove_subscription(self, user_id: int, plan: str) -> int:
        result = await self.conn.execute(
            delete(t.subscriptions).where(
                t.subscriptions.c.user_id == user_id, t.subscriptions.c.plan == plan
            )
        )
        return result.rowcount


class AccountSummary(NamedTuple):
    """A line of /softphone or of the API list: no password, cheap to build in bulk (a
    named tuple: a thousand of them are built per listing)."""

    id: int
    owner_id: int
    user_id: int
    owner_label: str
    user_label: str
    login: str
    domain: str
    transport: str
    port: int | None
    enabled: bool
    payer: Payer
    via_link: bool
    duplicate: bool
    reg_state: str
    reg_code: int | None
    reg_error: str | None
    worker: str | None

    @property
    def assigned(self) -> bool:
        return self.user_id != self.owner_id


def _label(first_name: str | None, username: str | None, user_id: int) -> str:
    if username:
        return f"@{username}"
    return first_name or f"id{user_id}"


_SUMMARY_SELECT: Any = None


class Accounts:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    async def add(
        self, owner_id: int, settings: AccountSettings, payer: Payer, via_link: bool, now: datetime
    ) -> int:
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
        result = await self.conn.execute(
            insert(t.accounts).values(values).returning(t.accounts.c.id)
        )
        return int(result.scalar_one())

    def _duplicate_expr(self) -> Any:
        other = aliased(t.accounts)
        return exists().where(
            and_(other.c.identity == t.accounts.c.identity, other.c.id != t.accounts.c.id)
        )

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

    async def update(self, account_id: int, now: datetime, **values: Any) -> None:
        values["updated_at"] = now
        await self.conn.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(**values)
        )

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
        values = settings_values(settings) | {
            "password_enc": self.cipher.encrypt(settings.password)
        }
        if bump:
            values["version"] = t.accounts.c.version + 1
        await self.update(account_id, now, **values)

    async def delete(self, account_id: int) -> None:
        await self.conn.execute(delete(t.accounts).where(t.accounts.c.id == account_id))

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
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
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
        owner = aliased(t.users)
        user = aliased(t.users)
        a = t.accounts
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
                self._duplicate_expr().label("duplicate"),
            )
            .join(owner, owner.c.id == a.c.owner_id)
            .join(user, user.c.id == a.c.user_id)
            .order_by(a.c.id)
        )

    async def _summaries(self, stmt: Any) -> list[AccountSummary]:
        rows = (await self.conn.execute(stmt)).all()
        payers = {p.value: p for p in Payer}
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
                enabled,
                payers[payer],
                via_link,
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

    async def owned_by(
        self, owner_id: int, *, via_link: bool | None = False
    ) -> list[AccountSummary]:
        stmt = self._summary_select().where(t.accounts.c.owner_id == owner_id)
        if via_link is not None:
            stmt = stmt.where(t.accounts.c.via_link == via_link)
        return await self._summaries(stmt)

    async def assigned_to(self, user_id: int) -> list[AccountSummary]:
        stmt = self._summary_select().where(
            t.accounts.c.user_id == user_id, t.accounts.c.owner_id != user_id
        )
        return await self._summaries(stmt)

    async def summaries(
        self, *, limit: int = 1000, after_id: int = 0, owner_ids: Sequence[int] | None = None
    ) -> list[AccountSummary]:
        stmt = self._summary_select().where(t.accounts.c.id > after_id).limit(limit)
        if owner_ids is not None:
            stmt = stmt.where(t.accounts.c.owner_id.in_(list(owner_ids)))
        return await self._summaries(stmt)

    async def card(self, account_id: int, live_after: datetime) -> CardRead | None:
        """The card of an account (see ``_card_select``); ``live_after``: workers seen since
        then are alive."""
        rows = (
            await self.conn.execute(_CARD, {"b_account": account_id, "b_live_after": live_after})
        ).all()
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
            pending = offer_from_row_values({c.name: m[f"p_{c.name}"] for c in t.offers.c})
        if r.holder_addresses is not None:
            firewall = list(r.holder_addresses)
        else:
            firewall = sorted(
                {x for row in rows if row.candidate_addresses for x in row.candidate_addresses}
            )
        return CardRead(summary, pending, firewall, r, self.cipher)

    async def summary(self, account_id: int) -> AccountSummary | None:
        found = await self._summaries(self._summary_select().where(t.accounts.c.id == account_id))
        return found[0] if found else None


class Offers:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def close_pending(
        self, account_id: int, now: datetime, state: OfferState = OfferState.REPLACED
    ) -> list[int]:
        """End the account's pending offer (expired ones are marked so); return their ids."""
        result = await self.conn.execute(
            _OFFERS_CLOSE, {"b_account": account_id, "b_now": now, "b_state": state.value}
        )
        return [int(r[0]) for r in result]

    async def add(self, offer: Offer) -> int:
        result = await self.conn.execute(
            _OFFER_ADD,
            {
                "account_id": offer.account_id,
                "sender_id": offer.sender_id,
                "method": offer.method.value,
                "kind": offer.kind.value,
                "state": offer.state.value,
                "only_for_id": offer.only_for_id,
                "token": offer.token,
                "created_at": offer.created_at,
                "expires_at": offer.expires_at,
            },
        )
        return int(result.scalar_one())

    async def get(self, offer_id: int) -> Offer | None:
        row = (await self.conn.execute(_OFFER, {"b_offer": offer_id})).first()
        return offer_from_row(row) if row else None

    async def id_by_token(self, token: str) -> int | None:
        return await self.conn.scalar(select(t.offers.c.id).where(t.offers.c.token == token))

    async def account_of(self, offer_id: int) -> int | None:
        return await self.conn.scalar(
            select(t.offers.c.account_id).where(t.offers.c.id == offer_id)
        )

    async def accept(self, offer_id: int, recipient_id: int, now: datetime) -> bool:
        """Exactly once: only a pending, unexpired offer flips to accepted."""
        result = await self.conn.execute(
            _OFFER_ACCEPT, {"b_offer": offer_id, "b_recipient": recipient_id, "b_now": now}
        )
        return result.rowcount == 1

    async def set_state(self, offer_id: int, state: OfferState, now: datetime) -> None:
        await self.conn.execute(
            update(t.offers)
            .where(t.offers.c.id == offer_id, t.offers.c.state == "pending")
            .values(state=state.value, decided_at=now)
        )

    async def set_inline_message(self, offer_id: int, inline_message_id: str) -> None:
        await self.conn.execute(
            update(t.offers)
            .where(t.offers.c.id == offer_id)
            .values(inline_message_id=inline_message_id)
        )

    async def last_accepted(
        self,
        account_id: int,
        *,
        method: str | None = None,
        sender_id: int | None = None,
        recipient_id: int | None = None,
        kind: str | None = None,
    ) -> Offer | None:
        stmt = select(t.offers).where(
            t.offers.c.account_id == account_id, t.offers.c.state == "accepted"
        )
        if method is not None:
            stmt = stmt.where(t.offers.c.method == method)
        if sender_id is not None:
            stmt = stmt.where(t.offers.c.sender_id == sender_id)
        if kind is not None:
            stmt = stmt.where(t.offers.c.kind == kind)
        if recipient_id is not None:
            stmt = stmt.where(t.offers.c.recipient_id == recipient_id)
        row = (await self.conn.execute(stmt.order_by(t.offers.c.id.desc()).limit(1))).first()
        return offer_from_row(row) if row else None

    async def last_given(self, account_id: int, sender_id: int) -> Offer | None:
        """The latest unlink of this account by ``sender_id`` that was received (R7)."""
        row = (
            await self.conn.execute(
                _OFFER_LAST_GIVEN,
                {"b_account": account_id, "b_method": "unlink", "b_sender": sender_id},
            )
        ).first()
        return offer_from_row(row) if row else None

    async def pending_for(self, account_id: int) -> Offer | None:
        row = (
            await self.conn.execute(
                select(t.offers).where(
                    t.offers.c.account_id == account_id, t.offers.c.state == "pending"
                )
            )
        ).first()
        return offer_from_row(row) if row else None


class Links:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, link: SettingsLink) -> int:
        result = await self.conn.execute(
            insert(t.links)
            .values(
                token=link.token,
                account_id=link.account_id,
                owner_id=link.owner_id,
                created_at=link.created_at,
                expires_at=link.expires_at,
            )
            .returning(t.links.c.id)
        )
        return int(result.scalar_one())

    async def by_token(self, token: str) -> SettingsLink | None:
        row = (await self.conn.execute(select(t.links).where(t.links.c.token == token))).first()
        return link_from_row(row) if row else None

    async def get(self, link_id: int) -> SettingsLink | None:
        row = (await self.conn.execute(select(t.links).where(t.links.c.id == link_id))).first()
        return link_from_row(row) if row else None

    async def of_owner(self, owner_id: int) -> list[SettingsLink]:
        rows = await self.conn.execute(
            select(t.links).where(t.links.c.owner_id == owner_id).order_by(t.links.c.id)
        )
        return [link_from_row(r) for r in rows]

    async def mark_used(self, link_id: int, user_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(t.links)
            .where(
                t.links.c.id == link_id,
                t.links.c.used_by.is_(None),
                t.links.c.revoked_at.is_(None),
                t.links.c.expires_at > now,
            )
            .values(used_by=user_id, used_at=now)
        )
        return result.rowcount == 1

    async def revoke(self, link_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(t.links)
            .where(t.links.c.id == link_id, t.links.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_unused_for(self, account_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(t.links)
            .where(
                t.links.c.account_id == account_id,
                t.links.c.used_by.is_(None),
                t.links.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor_id: int | None
    account_id: int | None
    action: str
    details: dict[str, Any]


class Audit:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        at: datetime,
        actor_id: int | None,
        account_id: int | None,
        action: str,
        details: dict[str, Any],
    ) -> None:
        await self.conn.execute(
            _AUDIT_ADD,
            {
                "at": at,
                "actor_id": actor_id,
                "account_id": account_id,
                "action": action,
                "details": details,
            },
        )

    async def add_many(self, records: list[dict[str, Any]]) -> None:
        """Many records in one statement (at, actor_id, account_id, action, details each)."""
        if records:
            await self.conn.execute(_AUDIT_ADD, records)

    async def of_account(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[AuditRecord]:
        stmt = select(t.audit).where(t.audit.c.account_id == account_id)
        if before_id is not None:
            stmt = stmt.where(t.audit.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(t.audit.c.id.desc()).limit(limit))
        return [
            AuditRecord(r.id, r.at, r.actor_id, r.account_id, r.action, r.details) for r in rows
        ]


class Guesses:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, user_id: int, account_id: int) -> GuessState | None:
        row = (
            await self.conn.execute(_GUESS, {"b_user": user_id, "b_account": account_id})
        ).first()
        if row is None:
            return None
        return GuessState(
            window_start=row.window_start,
            failures=row.failures,
            free_steps=row.free_steps,
            last_hash=row.last_hash,
            last_prefix_hash=row.last_prefix_hash,
            locked_until=row.locked_until,
        )

    async def save(self, user_id: int, account_id: int, state: GuessState) -> None:
        values = {
            "window_start": state.window_start,
            "failures": state.failures,
            "free_steps": state.free_steps,
            "last_hash": state.last_hash,
            "last_prefix_hash": state.last_prefix_hash,
            "locked_until": state.locked_until,
        }
        stmt = _dialect_insert(self.conn, t.guesses).values(
            user_id=user_id, account_id=account_id, **values
        )
        await self.conn.execute(
            stmt.on_conflict_do_update(index_elements=["user_id", "account_id"], set_=values)
        )

    async def clear(self, user_id: int, account_id: int) -> None:
        await self.conn.execute(
            delete(t.guesses).where(
                t.guesses.c.user_id == user_id, t.guesses.c.account_id == account_id
            )
        )
