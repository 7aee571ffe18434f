"""Transfer offers (R3): an assign (R4) or unlink (R6) offer that the recipient receives in
the bot within its lifetime."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from telesip.api import convert, schemas
from telesip.api.auth import Auth, Ctx
from telesip.api.errors import ERROR_RESPONSES
from telesip.api.schemas import MAX_ID
from telesip.domain.model import Method, Offer, OfferState, TelegramUser
from telesip.services import offers

router = APIRouter(prefix="/offers", tags=["offers"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=schemas.OfferOut, summary="Create an offer")
async def create_offer(ctx: Auth, body: schemas.OfferCreate) -> schemas.OfferOut:
    owner = await ctx.require_account(body.account_id)
    offer = await offers.create_offer(
        ctx.s, TelegramUser(owner), body.account_id, Method(body.method)
    )
    return convert.offer(offer, _link(ctx, offer))


@router.get("/{offer_id}", response_model=schemas.OfferOut, summary="Read an offer")
async def get_offer(ctx: Auth, offer_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> schemas.OfferOut:
    offer = await offers.get_offer(ctx.s, offer_id)
    await ctx.require_account(offer.account_id)
    return convert.offer(offer, _link(ctx, offer))


def _link(ctx: Ctx, offer: Offer) -> str | None:
    """The recipient opens it in Telegram and receives the offer (``/start o_<token>``)."""
    if offer.token is None or offer.state is not OfferState.PENDING:
        return None
    return ctx.deep_link(f"o_{offer.token}")
