"""Settings links (R9): create for an account or from settings, list, read, QR code, revoke.
Responses carry the t.me deep link and, when created, its QR code as a PNG (base64)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from telesip.api import convert, schemas
from telesip.api.auth import Auth, Ctx
from telesip.api.errors import AUTHED, BODY, created, responses
from telesip.api.schemas import MAX_ID
from telesip.domain import errors
from telesip.domain.model import SettingsLink, TelegramUser
from telesip.services import links, operators

router = APIRouter(tags=["settings links"])
ONE = responses(*AUTHED, 403, 404, 422)
LinkId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _out(ctx: Ctx, link: SettingsLink, *, with_qr: bool = False) -> schemas.LinkOut:
    return convert.link(link, ctx.deep_link(link.token), ctx.deps.clock.now(), with_qr=with_qr)


async def _in_scope(ctx: Ctx, link_id: int) -> SettingsLink:
    link = await operators.get_link(ctx.deps, link_id)
    if not ctx.key.scope.covers_account(link.account_id, link.owner_id):
        raise errors.OutOfScope(what=f"settings link {link_id}")
    return link


@router.post(
    "/accounts/{account_id:int}/links",
    status_code=201,
    response_model=schemas.LinkOut,
    summary="Create a settings link for an account",
    operation_id="createAccountLink",
    responses=created(responses(*BODY, 402, 403, 404, 409)),
)
async def create_for_account(
    ctx: Auth, account_id: Annotated[int, Path(ge=1, le=MAX_ID)], response: Response
) -> schemas.LinkOut:
    owner = await ctx.require_account(account_id)
    link = await links.create_link(ctx.deps, TelegramUser(owner), account_id)
    response.headers["Location"] = f"/api/v1/links/{link.id}"
    return _out(ctx, link, with_qr=True)


@router.post(
    "/links",
    status_code=201,
    response_model=schemas.LinkOut,
    summary="Connect an account straight into a settings link",
    operation_id="createLink",
    responses=created(responses(*BODY, 402, 403, 404, 409)),
)
async def create_from_settings(
    ctx: Auth, body: schemas.LinkCreate, response: Response
) -> schemas.LinkOut:
    ctx.require_user(body.owner.id)
    settings = await convert.settings(ctx.deps, body.settings)
    link = await links.create_link_from_settings(ctx.deps, convert.user(body.owner), settings)
    response.headers["Location"] = f"/api/v1/links/{link.id}"
    return _out(ctx, link, with_qr=True)


@router.get(
    "/links",
    response_model=list[schemas.LinkOut],
    summary="List an owner's links",
    operation_id="listLinks",
    responses=responses(*AUTHED, 403, 422),
)
async def list_links(
    ctx: Auth, owner_id: Annotated[int, Query(ge=1, le=MAX_ID)]
) -> list[schemas.LinkOut]:
    scope = ctx.key.scope
    if not (scope.all or scope.accounts or owner_id in scope.users):
        raise errors.OutOfScope(what=f"user {owner_id}")
    return [
        _out(ctx, line.link)
        for line in await links.list_links(ctx.deps, TelegramUser(owner_id))
        if scope.covers_account(line.link.account_id, line.link.owner_id)
    ]


@router.get(
    "/links/{link_id:int}",
    response_model=schemas.LinkOut,
    summary="Read a link",
    operation_id="getLink",
    responses=ONE,
)
async def get_link(ctx: Auth, link_id: LinkId) -> schemas.LinkOut:
    return _out(ctx, await _in_scope(ctx, link_id), with_qr=True)


@router.get(
    "/links/{link_id:int}/qr.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "QR code of the deep link"},
        **ONE,
    },
    summary="The link's QR code",
    operation_id="getLinkQr",
)
async def link_qr(ctx: Auth, link_id: LinkId) -> Response:
    out = _out(ctx, await _in_scope(ctx, link_id))
    if out.url is None:
        raise errors.LinkNotFound("This settings link is no longer active (or no bot is set).")
    return Response(schemas.qr_png(out.url), media_type="image/png")


@router.delete(
    "/links/{link_id:int}",
    status_code=204,
    summary="Revoke a link",
    operation_id="revokeLink",
    responses=responses(*AUTHED, 403, 404, 409, 410, 422),
)
async def revoke_link(ctx: Auth, link_id: LinkId) -> Response:
    await _in_scope(ctx, link_id)
    await links.revoke_link(ctx.deps, None, link_id)
    return Response(status_code=204)
