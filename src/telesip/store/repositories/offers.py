"""Offers of an account (give, assign, unlink): each hot step is one statement."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.model import Offer, OfferState
from telesip.store import tables
from telesip.store.repositories.common import PENDING
from telesip.store.rows import offer_from_row

_OFFER = select(tables.offers).where(tables.offers.c.id == bindparam("b_offer"))
_OFFER_ADD = insert(tables.offers).returning(tables.offers.c.id)
_OFFER_ACCEPT = (
    update(tables.offers)
    .where(
        tables.offers.c.id == bindparam("b_offer"),
        tables.offers.c.state == PENDING,
        tables.offers.c.expires_at > bindparam("b_now"),
    )
    .values(state="accepted", recipient_id=bindparam("b_recipient"), decided_at=bindparam("b_now"))
)
_OFFERS_CLOSE = (
    update(tables.offers)
    .where(tables.offers.c.account_id == bindparam("b_account"), tables.offers.c.state == PENDING)
    .values(
        state=case(
            (tables.offers.c.expires_at <= bindparam("b_now"), "expired"),
            else_=bindparam("b_state"),
        ),
        decided_at=bindparam("b_now"),
    )
    .returning(tables.offers.c.id)
)
_OFFER_LAST_GIVEN = (
    select(tables.offers)
    .where(
        tables.offers.c.account_id == bindparam("b_account"),
        tables.offers.c.state == "accepted",
        tables.offers.c.method == bindparam("b_method"),
        tables.offers.c.sender_id == bindparam("b_sender"),
    )
    .order_by(tables.offers.c.id.desc())
    .limit(1)
)


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
                "inline_message_id": offer.inline_message_id,
                "created_at": offer.created_at,
                "expires_at": offer.expires_at,
            },
        )
        return int(result.scalar_one())

    async def get(self, offer_id: int) -> Offer | None:
        row = (await self.conn.execute(_OFFER, {"b_offer": offer_id})).first()
        return offer_from_row(row) if row else None

    async def id_by_token(self, token: str) -> int | None:
        return await self.conn.scalar(
            select(tables.offers.c.id).where(tables.offers.c.token == token)
        )

    async def account_of(self, offer_id: int) -> int | None:
        return await self.conn.scalar(
            select(tables.offers.c.account_id).where(tables.offers.c.id == offer_id)
        )

    async def accept(self, offer_id: int, recipient_id: int, now: datetime) -> bool:
        """Exactly once: only a pending, unexpired offer flips to accepted."""
        result = await self.conn.execute(
            _OFFER_ACCEPT, {"b_offer": offer_id, "b_recipient": recipient_id, "b_now": now}
        )
        return result.rowcount == 1

    async def set_state(self, offer_id: int, state: OfferState, now: datetime) -> None:
        await self.conn.execute(
            update(tables.offers)
            .where(tables.offers.c.id == offer_id, tables.offers.c.state == PENDING)
            .values(state=state.value, decided_at=now)
        )

    async def set_inline_message(self, offer_id: int, inline_message_id: str) -> None:
        await self.conn.execute(
            update(tables.offers)
            .where(tables.offers.c.id == offer_id)
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
        stmt = select(tables.offers).where(
            tables.offers.c.account_id == account_id, tables.offers.c.state == "accepted"
        )
        if method is not None:
            stmt = stmt.where(tables.offers.c.method == method)
        if sender_id is not None:
            stmt = stmt.where(tables.offers.c.sender_id == sender_id)
        if kind is not None:
            stmt = stmt.where(tables.offers.c.kind == kind)
        if recipient_id is not None:
            stmt = stmt.where(tables.offers.c.recipient_id == recipient_id)
        row = (await self.conn.execute(stmt.order_by(tables.offers.c.id.desc()).limit(1))).first()
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
                select(tables.offers).where(
                    tables.offers.c.account_id == account_id, tables.offers.c.state == PENDING
                )
            )
        ).first()
        return offer_from_row(row) if row else None

    async def by_inline_message(self, inline_message_id: str) -> Offer | None:
        """The newest offer carried by an inline message (a send-back reuses the message)."""
        row = (
            await self.conn.execute(
                select(tables.offers)
                .where(tables.offers.c.inline_message_id == inline_message_id)
                .order_by(tables.offers.c.id.desc())
                .limit(1)
            )
        ).first()
        return offer_from_row(row) if row else None

    async def newest_created_at(self, account_id: int) -> datetime | None:
        """When the account's newest offer was made (any state), as an aware UTC time."""
        value = await self.conn.scalar(
            select(func.max(tables.offers.c.created_at)).where(
                tables.offers.c.account_id == account_id
            )
        )
        if isinstance(value, str):  # SQLite hands an aggregate back as text
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
