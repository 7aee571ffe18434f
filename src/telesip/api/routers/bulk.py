"""Many accounts of one owner at once (docs/bulk.md): settings links (JSON, CSV or the printable
PDF sheet), disable, enable, delete, assign. Each is one call of ``services.bulk``: all or
nothing, audited per account; ``Idempotency-Key`` makes a retry safe (every POST has it).

The accounts are ``account_ids`` or a ``group`` of the owner's (an empty group does nothing);
``expected_count`` is the confirmation: the number of accounts the client showed its user
("Disable 37 accounts?"); when the selection holds another number now, 409
``selection_changed`` and nothing is changed. The key must reach the owner (a key scoped to
some accounts may name only those, by id).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from telesip import i18n
from telesip.api import problems
from telesip.api.auth import Auth, Ctx
from telesip.api.errors import BODY, responses
from telesip.api.schemas import BodyId, In, json_int
from telesip.domain import errors
from telesip.printing import Card, links_csv, pdf
from telesip.services import bulk

router = APIRouter(prefix="/accounts/bulk", tags=["bulk"])
BulkId = BodyId
Count = Annotated[int, Field(ge=0, le=bulk.MAX_BULK), BeforeValidator(json_int)]
CHANGE = responses(*BODY, 402, 403, 404, 409)


def _one_of(a: str, b: str) -> Callable[[dict[str, Any]], None]:
    """The JSON Schema of "``a`` or ``b``, not both, never ``null``" (pydantic's validator
    checks the same), so a client reads the rule from the document."""

    def edit(schema: dict[str, Any]) -> None:
        for name in (a, b):
            prop = schema["properties"][name]
            kept = [x for x in prop.pop("anyOf", []) if x.get("type") != "null"]
            prop.pop("default", None)
            if len(kept) == 1:
                prop.update(kept[0])
        schema["oneOf"] = [
            {"required": [a], "not": {"required": [b]}},
            {"required": [b], "not": {"required": [a]}},
        ]

    return edit


class BulkSelection(In):
    """Which of the owner's accounts: ``account_ids`` or ``group``, not both."""

    model_config = ConfigDict(json_schema_extra=_one_of("account_ids", "group"))

    owner_id: BulkId = Field(description="The accounts' owner (Telegram id)")
    account_ids: list[BulkId] | None = Field(
        default=None, min_length=1, max_length=bulk.MAX_BULK, description="These accounts"
    )
    group: Literal["unassigned", "enabled", "disabled", "unused"] | None = Field(
        default=None,
        description="Or all of the owner's: unassigned (enabled, held by nobody else), enabled, "
        "disabled, unused (R11)",
    )
    expected_count: Count | None = Field(
        default=None,
        description="The count the user confirmed; another count now: 409 selection_changed",
    )

    @model_validator(mode="after")
    def _one_way(self) -> BulkSelection:
        if (self.account_ids is None) == (self.group is None):
            raise ValueError("give account_ids or group, not both or neither")
        return self


class BulkOut(BaseModel):
    changed: list[int] = Field(description="Accounts changed, in the order given")
    unchanged: list[int] = Field(description="Accounts already as asked")


class BulkLinkOut(BaseModel):
    account_id: int
    name: str = Field(description="The display name, else the login")
    login: str
    server: str
    url: str
    expires_at: str


class BulkLinksOut(BaseModel):
    links: list[BulkLinkOut]


class BulkAssignmentIn(In):
    account_id: BulkId
    user: Annotated[
        BodyId | Annotated[str, Field(pattern=r"^@[A-Za-z0-9_]{3,32}$")],
        BeforeValidator(json_int),
    ] = Field(description="Telegram id, or @username, of a person who has started the bot")


class BulkAssignIn(In):
    """``rows``, or ``csv``: the text of a file of (account, user) rows (docs/bulk.md)."""

    model_config = ConfigDict(json_schema_extra=_one_of("rows", "csv"))

    owner_id: BulkId
    rows: list[BulkAssignmentIn] | None = Field(
        default=None, min_length=1, max_length=bulk.MAX_BULK
    )
    csv: str | None = Field(default=None, min_length=1, max_length=200_000)

    @model_validator(mode="after")
    def _one_way(self) -> BulkAssignIn:
        if (self.rows is None) == (self.csv is None):
            raise ValueError("give rows or csv, not both or neither")
        return self


async def _chosen(ctx: Ctx, body: BulkSelection) -> list[int]:
    scope = ctx.key.scope
    if not scope.covers_user(body.owner_id):
        ids = body.account_ids or []
        if body.group is not None or not all(i in scope.accounts for i in ids):
            raise errors.OutOfScope(what=f"Telegram user {body.owner_id}")
    if body.group is not None:
        ids = [a.id for a in await bulk.group(ctx.deps, None, body.owner_id, body.group)]
    else:
        ids = list(dict.fromkeys(body.account_ids or []))
    if body.expected_count is not None and body.expected_count != len(ids):
        raise errors.SelectionChanged(count=len(ids), expected=body.expected_count)
    return ids


def _out(done: bulk.BulkResult) -> BulkOut:
    return BulkOut(changed=list(done.changed), unchanged=list(done.unchanged))


_FILES: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The links: JSON, or as format asks: CSV or the printable sheet (PDF)",
        "headers": {
            "Location": {
                "description": "The owner's links (GET), the new ones among them",
                "schema": {"type": "string"},
            }
        },
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/links",
    status_code=201,
    response_model=BulkLinksOut,
    summary="Settings links for many accounts (R9): JSON, CSV or a printable PDF sheet",
    operation_id="createBulkLinks",
    responses={**_FILES, **CHANGE},
)
async def create_links(
    ctx: Auth,
    body: BulkSelection,
    request: Request,
    response: Response,
    format: Annotated[
        Literal["json", "csv", "pdf"], Query(description="The answer's form")
    ] = "json",
    lang: Annotated[
        Literal["en", "ru"] | None, Query(description="The sheet's language (else Accept-Language)")
    ] = None,
) -> Response | BulkLinksOut:
    if not ctx.bot_username:
        raise errors.StateConflict("No bot username is known (TELESIP_BOT_TOKEN): links need one.")
    ids = await _chosen(ctx, body)
    made = await bulk.create_links(ctx.deps, None, body.owner_id, ids) if ids else []
    cards = [Card.of(m, ctx.deep_link(m.token) or "") for m in made]
    # many new resources, no one of them primary: the collection that lists them (RFC 9110)
    where = {"Location": f"/api/v1/links?owner_id={body.owner_id}"}
    if format == "csv":
        csv = links_csv(cards)
        return Response(csv, 201, headers=where, media_type="text/csv; charset=utf-8")
    if format == "pdf":
        language = lang or problems.language(request.headers.get("accept-language"))
        sheet = await asyncio.to_thread(pdf, cards, i18n.lang_of(language))  # CPU: off the loop
        return Response(sheet, 201, headers=where, media_type="application/pdf")
    response.headers.update(where)
    return BulkLinksOut(
        links=[
            BulkLinkOut(
                account_id=c.account_id,
                name=c.name,
                login=c.login,
                server=c.server,
                url=c.url,
                expires_at=c.expires_at.isoformat(),
            )
            for c in cards
        ]
    )


@router.post(
    "/disable",
    response_model=BulkOut,
    summary="Disable many accounts (all or nothing)",
    operation_id="disableBulkAccounts",
    responses=CHANGE,
)
async def disable(ctx: Auth, body: BulkSelection) -> BulkOut:
    ids = await _chosen(ctx, body)
    return (
        _out(await bulk.set_enabled(ctx.deps, None, body.owner_id, ids, False))
        if ids
        else BulkOut(changed=[], unchanged=[])
    )


@router.post(
    "/enable",
    response_model=BulkOut,
    summary="Enable many accounts (all or nothing; 409 line_connected for a copy of a line)",
    operation_id="enableBulkAccounts",
    responses=CHANGE,
)
async def enable(ctx: Auth, body: BulkSelection) -> BulkOut:
    ids = await _chosen(ctx, body)
    return (
        _out(await bulk.set_enabled(ctx.deps, None, body.owner_id, ids, True))
        if ids
        else BulkOut(changed=[], unchanged=[])
    )


@router.post(
    "/delete",
    response_model=BulkOut,
    summary="Delete many accounts everywhere (R10; all or nothing)",
    operation_id="deleteBulkAccounts",
    responses=CHANGE,
)
async def delete(ctx: Auth, body: BulkSelection) -> BulkOut:
    ids = await _chosen(ctx, body)
    return (
        _out(await bulk.delete(ctx.deps, None, body.owner_id, ids))
        if ids
        else BulkOut(changed=[], unchanged=[])
    )


@router.post(
    "/assign",
    response_model=BulkOut,
    summary="Assign many accounts to people who started the bot (R4; all or nothing)",
    operation_id="assignBulkAccounts",
    responses=CHANGE,
)
async def assign(ctx: Auth, body: BulkAssignIn) -> BulkOut:
    ctx.require_user(body.owner_id)
    if body.csv is not None:
        stream = io.BytesIO(body.csv.encode("utf-8"))
        return _out(await bulk.assign_file(ctx.deps, None, body.owner_id, stream))
    rows = [
        bulk.Assignment(n, r.account_id, r.user.lower() if isinstance(r.user, str) else r.user)
        for n, r in enumerate(body.rows or [], start=1)
    ]
    return _out(await bulk.assign(ctx.deps, None, body.owner_id, rows))
