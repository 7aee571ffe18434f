"""Transfer offers (R3): an assign (R4) or unlink (R6) offer that the recipient receives in
the bot within its lifetime."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from telesip.api import convert, schemas
from telesip.api.auth import Auth, Ctx
from telesip.api.errors import AUTHED, BODY, created, responses
from telesip.api.schemas import MAX_ID
from telesip.domain.model import Method, Offer, OfferState, TelegramUser
from telesip.services import offers

router = APIRouter(prefix="/offers", tags=["offers"])


@router.post(
    "",
    status_code=201,
    response_model=schemas.OfferOut,
    summary="Create an offer",
    operation_id="createOffer",
    responses=created(responses(*BODY, 402, 403, 404, 409)),
)
async def create_offer(
    ctx: Auth, body: schemas.OfferCreate, response: Response
) -> schemas.OfferOut:
    owner = await ctx.require_account(body.account_id)
    offer = await offers.create_offer(
        ctx.deps, TelegramUser(owner), body.account_id, Method(body.method)
    )
    response.headers["Location"] = f"/api/v1/offers/{offer.id}"
    return convert.offer(offer, _link(ctx, offer))


@router.get(
    "/{offer_id:int}",
    response_model=schemas.OfferOut,
    summary="Read an offer",
    operation_id="getOffer",
    responses=responses(*AUTHED, 403, 404, 422),
)
async def get_offer(ctx: Auth, offer_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> schemas.OfferOut:
    offer = await offers.get_offer(ctx.deps, offer_id)
    await ctx.require_account(offer.account_id)
    return convert.offer(offer, _link(ctx, offer))


def _link(ctx: Ctx, offer: Offer) -> str | None:
    """The recipient opens it in Telegram and receives the offer (``/start o_<token>``)."""
    if offer.token is None or offer.state is not OfferState.PENDING:
        return None
    return ctx.deep_link(f"o_{offer.token}")
