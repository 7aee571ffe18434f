"""Accounts: create for a Telegram user, read with registration state, change settings,
disable/enable, delete, assign/take back, mark operator-paid, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from telesip.api import convert, schemas
from telesip.api.auth import Auth
from telesip.api.errors import ERROR_RESPONSES
from telesip.api.schemas import MAX_ID, Id
from telesip.domain import errors
from telesip.services import accounts, audit

router = APIRouter(prefix="/accounts", tags=["accounts"], responses=ERROR_RESPONSES)
AccountId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def _read(ctx: Auth, account_id: int) -> schemas.AccountOut:
    card = await accounts.get_card(ctx.s, None, account_id)
    return convert.account(card.summary, card)


@router.get("", response_model=schemas.AccountsPage, summary="List accounts in scope")
async def list_accounts(
    ctx: Auth,
    owner_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.AccountsPage:
    scope = ctx.key.scope
    owners: list[int] | None = None
    if owner_id is not None:
        owners = [owner_id]
    elif not scope.all and not scope.accounts:
        owners = sorted(scope.users)
    rows = await accounts.list_accounts(ctx.s, limit=limit, after_id=after_id, owner_ids=owners)
    visible = [a for a in rows if scope.covers_account(a.id, a.owner_id)]
    return schemas.AccountsPage(
        accounts=[convert.account(a) for a in visible],
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


@router.post("", status_code=201, response_model=schemas.AccountOut, summary="Create an account")
async def create_account(ctx: Auth, body: schemas.AccountCreate) -> schemas.AccountOut:
    ctx.require_user(body.owner.id)
    settings = await convert.settings(ctx.s, body.settings)
    account_id = await accounts.create_account(ctx.s, convert.user(body.owner), settings)
    return await _read(ctx, account_id)


@router.get("/{account_id}", response_model=schemas.AccountOut, summary="Read an account")
async def get_account(ctx: Auth, account_id: AccountId) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    return await _read(ctx, account_id)


@router.patch(
    "/{account_id}/settings", response_model=schemas.AccountOut, summary="Change settings"
)
async def update_settings(
    ctx: Auth, account_id: AccountId, body: schemas.SettingsPatch
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.update_settings(ctx.s, None, account_id, **convert.changes(body))
    return await _read(ctx, account_id)


@router.put("/{account_id}/enabled", response_model=schemas.AccountOut, summary="Disable/enable")
async def set_enabled(
    ctx: Auth, account_id: AccountId, body: schemas.EnabledIn
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.set_enabled(ctx.s, None, account_id, body.enabled)
    return await _read(ctx, account_id)


@router.put(
    "/{account_id}/operator-paid", response_model=schemas.AccountOut, summary="Operator pays"
)
async def set_operator_paid(
    ctx: Auth, account_id: AccountId, body: schemas.OperatorPaidIn
) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.set_operator_paid(ctx.s, account_id, body.paid)
    return await _read(ctx, account_id)


@router.post(
    "/{account_id}/assign", response_model=schemas.AccountOut, summary="Assign to a user (R4)"
)
async def assign(ctx: Auth, account_id: AccountId, body: schemas.AssignIn) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.reassign(ctx.s, None, account_id, convert.user(body.user))
    return await _read(ctx, account_id)


@router.post(
    "/{account_id}/take-back", response_model=schemas.AccountOut, summary="End the assignment"
)
async def take_back(ctx: Auth, account_id: AccountId) -> schemas.AccountOut:
    await ctx.require_account(account_id)
    await accounts.take_back(ctx.s, None, account_id)
    return await _read(ctx, account_id)


@router.delete("/{account_id}", status_code=204, summary="Delete everywhere (R10)")
async def delete_account(ctx: Auth, account_id: AccountId) -> Response:
    await ctx.require_account(account_id)
    await accounts.delete_account(ctx.s, None, account_id)
    return Response(status_code=204)


@router.get("/{account_id}/audit", response_model=schemas.AuditPage, summary="Audit log")
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
    records = await audit.account_audit(ctx.s, None, account_id, limit=limit, before_id=before_id)
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
