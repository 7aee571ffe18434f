"""Accounts: create for a Telegram user, read with registration state, change settings,
disable/enable, delete, assign/take back, mark operator-paid, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from telesip.api import convert, schemas
from telesip.api.auth import Auth
from telesip.api.errors import AUTHED, BODY, created, etagged, responses
from telesip.api.schemas import MAX_ID, Id
from telesip.domain import errors
from telesip.domain.readmodels import AccountSummary
from telesip.services import accounts, audit

router = APIRouter(prefix="/accounts", tags=["accounts"])
AccountId = Annotated[int, Path(ge=1, le=MAX_ID)]
ONE = responses(*AUTHED, 403, 404, 422)  # an account by id
CHANGE = responses(*BODY, 403, 404, 409)  # a change to one


async def _read(ctx: Auth, account_id: int, response: Response) -> schemas.AccountOut:
    card = await accounts.get_card(ctx.deps, None, account_id)
    if card.etag is not None:
        response.headers["ETag"] = card.etag
    return convert.account(card.summary, card)


def _owners_in_scope(ctx: Auth, owner_id: int | None) -> list[int] | None:
    """The owners a listing may cover: ``owner_id`` if the key reaches them, else the key's
    users (None: everyone's)."""
    scope = ctx.key.scope
    if owner_id is not None:
        if not (scope.all or scope.accounts or owner_id in scope.users):
            raise errors.OutOfScope(what=f"user {owner_id}")
        return [owner_id]
    if not scope.all and not scope.accounts:
        return sorted(scope.users)
    return None


def _page(ctx: Auth, rows: list[AccountSummary], limit: int) -> schemas.AccountsPage:
    """One page of a listing: the accounts the key's scope covers, and where the next starts."""
    visible = [a for a in rows if ctx.key.scope.covers_account(a.id, a.owner_id)]
    return schemas.AccountsPage(
        accounts=[convert.account(a) for a in visible],
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get(
    "",
    response_model=schemas.AccountsPage,
    summary="List accounts in scope",
    operation_id="listAccounts",
    responses=responses(*AUTHED, 403, 422),
)
async def list_accounts(
    ctx: Auth,
    owner_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.AccountsPage:
    owners = _owners_in_scope(ctx, owner_id)
    rows = await accounts.list_accounts(ctx.deps, limit=limit, after_id=after_id, owner_ids=owners)
    return _page(ctx, rows, limit)


@router.get(
    "/unused",
    response_model=schemas.AccountsPage,
    summary="List unused accounts in scope: no call and no registration change for "
    "TELESIP_UNUSED_DAYS days (R11)",
    operation_id="listUnusedAccounts",
    responses=responses(*AUTHED, 403, 422),
)
async def list_unused_accounts(
    ctx: Auth,
    owner_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.AccountsPage:
    owners = _owners_in_scope(ctx, owner_id)
    rows = await accounts.unused(ctx.deps, None, owner_ids=owners, after_id=after_id, limit=limit)
    return _page(ctx, rows, limit)


@router.post(
    "",
    status_code=201,
    response_model=schemas.AccountOut,
    summary="Create an account",
    operation_id="createAccount",
    responses=created(responses(*BODY, 402, 403, 404, 409)),
)
async def create_account(
    ctx: Auth, body: schemas.AccountCreate, response: Response
) -> schemas.AccountOut:
    ctx.require_user(body.owner.id)
    settings = await convert.settings(ctx.deps, body.settings)
    account_id = await accounts.create_account(ctx.deps, convert.user(body.owner), settings)
    response.headers["Location"] = f"/api/v1/accounts/{account_id}"
    return await _read(ctx, account_id, response)


@router.get(
    "/{account_id:int}",
    response_model=schemas.AccountOut,
    summary="Read an account (ETag: its settings' version, for If-Match)",
    operation_id="getAccount",
    responses=etagged(ONE),
)
async def get_account(ctx: Auth, account_id: AccountId, response: Response) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    return await _read(ctx, account_id, response)


@router.patch(
    "/{account_id:int}/settings",
    response_model=schemas.AccountOut,
    summary="Change settings (If-Match: the ETag read, or 412 when they changed since)",
    operation_id="updateAccountSettings",
    responses=etagged(responses(*BODY, 403, 404, 409, 412)),
)
async def update_settings(
    ctx: Auth,
    account_id: AccountId,
    body: schemas.SettingsPatch,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.update_settings(
        ctx.deps, None, account_id, if_match=if_match, **convert.changes(body)
    )
    return await _read(ctx, account_id, response)


@router.put(
    "/{account_id:int}/enabled",
    response_model=schemas.AccountOut,
    summary="Disable/enable",
    operation_id="setAccountEnabled",
    responses=CHANGE,
)
async def set_enabled(
    ctx: Auth, account_id: AccountId, body: schemas.EnabledIn, response: Response
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.set_enabled(ctx.deps, None, account_id, body.enabled)
    return await _read(ctx, account_id, response)


@router.put(
    "/{account_id:int}/operator-paid",
    response_model=schemas.AccountOut,
    summary="Operator pays",
    operation_id="setAccountOperatorPaid",
    responses=responses(*BODY, 402, 403, 404, 409),
)
async def set_operator_paid(
    ctx: Auth, account_id: AccountId, body: schemas.OperatorPaidIn, response: Response
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.set_operator_paid(ctx.deps, account_id, body.paid)
    return await _read(ctx, account_id, response)


@router.post(
    "/{account_id:int}/assign",
    response_model=schemas.AccountOut,
    summary="Assign to a user (R4)",
    operation_id="assignAccount",
    responses=responses(*BODY, 402, 403, 404, 409),
)
async def assign(
    ctx: Auth, account_id: AccountId, body: schemas.AssignIn, response: Response
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.reassign(ctx.deps, None, account_id, convert.user(body.user))
    return await _read(ctx, account_id, response)


@router.post(
    "/{account_id:int}/take-back",
    response_model=schemas.AccountOut,
    summary="End the assignment",
    operation_id="takeBackAccount",
    responses=responses(*BODY, 403, 404, 409),
)
async def take_back(ctx: Auth, account_id: AccountId, response: Response) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.take_back(ctx.deps, None, account_id)
    return await _read(ctx, account_id, response)


@router.delete(
    "/{account_id:int}",
    status_code=204,
    summary="Delete everywhere (R10)",
    operation_id="deleteAccount",
    responses=responses(*AUTHED, 403, 404, 409, 422),
)
async def delete_account(ctx: Auth, account_id: AccountId) -> Response:
    await ctx.require_account(account_id)
    await accounts.delete_account(ctx.deps, None, account_id)
    return Response(status_code=204)


@router.get(
    "/{account_id:int}/audit",
    response_model=schemas.AuditPage,
    summary="Audit log",
    operation_id="getAccountAudit",
    responses=ONE,
)
async def account_audit(
    ctx: Auth,
    account_id: AccountId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[Id | None, Query()] = None,
) -> schemas.AuditPage:
    try:
        await ctx.require_account(account_id)
    except errors.AccountNotFound:
        if not ctx.key.scope.all:  # whose it was is not known: only an --all key may look
            raise
    records = await audit.account_audit(
        ctx.deps, None, account_id, limit=limit, before_id=before_id
    )
    if not records and before_id is None:
        await ctx.require_account(account_id)  # not found, or out of scope
    return schemas.AuditPage(
        records=[
            schemas.AuditRecordOut(
                id=r.id, at=r.at, actor_id=r.actor_id, action=r.action, details=r.details
            )
            for r in records
        ],
        next_before_id=records[-1].id if len(records) == limit else None,
    )
