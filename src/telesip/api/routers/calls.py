"""Calls: the history of the lines in the key's scope, one call, and click-to-call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from telesip.api import schemas
from telesip.api.auth import Auth
from telesip.api.errors import AUTHED, BODY, created, responses
from telesip.api.schemas import MAX_ID, Id
from telesip.domain.calls import CallRecord
from telesip.domain.errors import CallNotFound
from telesip.services import calls

router = APIRouter(prefix="/calls", tags=["calls"])


def _out(call: CallRecord) -> schemas.CallOut:
    return schemas.CallOut(
        id=call.id,
        account_id=call.account_id,
        owner_id=call.owner_id,
        user_id=call.user_id,
        direction=call.direction.value,
        number=call.number,
        line=call.line,
        state=call.state.value,
        created_at=call.created_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        end_reason=call.end_reason.value if call.end_reason else None,
        sip_status=call.sip_status,
        duration=call.duration,
    )


@router.get(
    "",
    response_model=schemas.CallsPage,
    summary="Call history, newest first",
    operation_id="listCalls",
    responses=responses(*AUTHED, 403, 404, 422),
)
async def list_calls(
    ctx: Auth,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    before_id: Annotated[Id | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.CallsPage:
    scope = ctx.key.scope
    if account_id is not None:
        await ctx.require_account(account_id)
    covered = None if scope.all else (sorted(scope.users), sorted(scope.accounts))
    found = await calls.call_history(
        ctx.deps, scope=covered, account_id=account_id, limit=limit, before_id=before_id
    )
    return schemas.CallsPage(
        calls=[_out(c) for c in found],
        next_before_id=found[-1].id if len(found) == limit else None,
    )


@router.get(
    "/{call_id:int}",
    response_model=schemas.CallOut,
    summary="One call",
    operation_id="getCall",
    responses=responses(*AUTHED, 404, 422),
)
async def get_call(ctx: Auth, call_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> schemas.CallOut:
    call = await calls.get_call(ctx.deps, call_id)
    if not ctx.key.scope.covers_account(call.account_id, call.owner_id):
        raise CallNotFound()  # out of scope looks like not there
    return _out(call)


@router.post(
    "",
    response_model=schemas.CallOut,
    status_code=201,
    summary="Click to call: ring the line's user in Telegram, then dial the number",
    operation_id="placeCall",
    responses=created(responses(*BODY, 403, 404, 409)),
)
async def place_call(ctx: Auth, body: schemas.CallIn, response: Response) -> schemas.CallOut:
    await ctx.require_account(body.account_id)
    call = await calls.request_call_for_user_of(ctx.deps, body.account_id, body.number)
    response.headers["Location"] = f"/api/v1/calls/{call.id}"
    return _out(call)
