"""The Mini App's HTTP endpoints, under ``/miniapp`` on telesip's own HTTP server.

``GET /miniapp/`` is a static shell (no data, no words); everything else answers only a request
whose ``Authorization: tma <initData>`` header :func:`initdata.verify` accepts, and acts as
the Telegram user it names, through the same service functions the bot calls (R1-R12 are
checked there, not here). Another person's account id gets the service's answer (404 for a
stranger, 403 for its assigned user) and nothing is changed: bulk requests check every id
before the first change. Rule errors are ``application/problem+json`` in the person's language;
forms come back as HTML with the errors next to their fields (422).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from telesip.domain import errors
from telesip.domain.model import Role, TelegramUser
from telesip.domain.readmodels import AccountSummary
from telesip.metrics import DOMAIN_ERRORS
from telesip.miniapp import form, table, views
from telesip.miniapp.initdata import verify
from telesip.miniapp.texts import error_text, lang_of, payer_text, state_text, t
from telesip.printing import Card, pdf
from telesip.services import accounts, bulk
from telesip.services.dependencies import Dependencies

__all__ = ["router"]

#: the first kind an error is decides its status (a subclass is listed before its parent); the
#: same statuses as the operators' API gives
STATUS: tuple[tuple[type[errors.TelesipError], int], ...] = (
    (errors.InitDataRejected, 401),
    (errors.ConfigError, 503),
    (errors.StorageUnavailable, 503),
    (errors.NotFound, 404),
    (errors.PermissionDenied, 403),
    (errors.StaleWrite, 412),
    (errors.BillingError, 402),
    (errors.StateConflict, 409),
    (errors.LinkError, 409),
    (errors.ConflictError, 409),
    (errors.InvalidInput, 422),
)
MAX_IDS = 1000
CSP = (
    "default-src 'none'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'self' https://web.telegram.org"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _status(exc: errors.TelesipError) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


def problem(request: Request, exc: errors.TelesipError) -> JSONResponse:
    lang = getattr(request.state, "miniapp_lang", None) or lang_of(
        request.headers.get("accept-language")
    )
    status = _status(exc)
    DOMAIN_ERRORS.labels(code=exc.code, via="miniapp").inc()
    body = {"type": "about:blank", "title": exc.code, "status": status, "code": exc.code}
    body["detail"] = error_text(lang, exc)
    headers = {"WWW-Authenticate": "tma"} if status == 401 else {}
    if isinstance(exc, errors.StorageUnavailable):
        headers["Retry-After"] = "5"  # as the API says it
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


class _Guarded(APIRoute):
    """Every Mini App route: rule errors become problems, and every answer gets the page's
    security headers and its server time (``Server-Timing``: the benchmark reads it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except errors.TelesipError as exc:
                response = problem(request, exc)
            response.headers.update(HEADERS)
            spent = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={spent:.2f}"
            return response

        return guarded


router = APIRouter(prefix="/miniapp", include_in_schema=False, route_class=_Guarded)


# ------------------------------------------------------------------ the shell and its files

_STATIC_TYPES = {"app.js": "text/javascript", "app.css": "text/css"}
_STATIC = {
    name: (resources.files("telesip.miniapp") / "static" / name).read_bytes()
    for name in _STATIC_TYPES
}
VERSION = hashlib.sha256(b"".join(_STATIC.values())).hexdigest()[:12]
_SHELL = views.shell(VERSION)


@router.get("/")
async def shell() -> HTMLResponse:
    return HTMLResponse(_SHELL, headers={"Cache-Control": "no-cache"})


@router.get("/static/{name}")
async def static(name: str, request: Request) -> Response:
    if name not in _STATIC:
        raise errors.NotFound(f"no file {name[:64]!r} here")
    fresh = request.query_params.get("v") == VERSION
    cache = "public, max-age=31536000, immutable" if fresh else "no-cache"
    return Response(_STATIC[name], media_type=_STATIC_TYPES[name], headers={"Cache-Control": cache})


# ------------------------------------------------------------------ who is asking


@dataclass(frozen=True)
class Viewer:
    deps: Dependencies
    user: TelegramUser
    lang: str


async def viewer(request: Request) -> Viewer:
    """The verified Telegram user of this request (or 401); nothing is remembered."""
    deps: Dependencies = request.app.state.services
    settings = request.app.state.settings
    if settings.bot_token is None:
        raise errors.ConfigError(reason="the Mini App needs TELESIP_BOT_TOKEN to check sign-ins")
    scheme, _, init_data = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "tma":
        raise errors.InitDataRejected(reason="missing")
    user = verify(
        init_data.strip(),
        settings.bot_token.get_secret_value(),
        now=deps.clock.now(),
        max_age=settings.miniapp_max_age_seconds,
    )
    request.state.miniapp_lang = lang = lang_of(user.language_code)
    return Viewer(deps, user, lang)


Acting = Annotated[Viewer, Depends(viewer)]


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ the table


async def _page(v: Viewer, query: table.Query) -> table.Page:
    owned = (await accounts.softphone(v.deps, v.user)).owned  # R1: what /softphone lists
    return table.select(owned, query, payer_text=lambda a: payer_text(v.lang, a))


@router.get("/app")
async def app_view(v: Acting) -> HTMLResponse:
    page = await _page(v, table.Query())
    return _html(views.app(v.lang, views.table(v.lang, page), v.deps.rules.unused_days))


@router.get("/table")
async def table_view(v: Acting, request: Request) -> HTMLResponse:
    page = await _page(v, table.parse_query(request.query_params))
    return _html(views.table(v.lang, page))


class Selection(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=MAX_IDS)


class Bulk(Selection):
    action: Literal["disable", "enable", "links"]


async def _mine(v: Viewer, ids: Sequence[int]) -> dict[int, AccountSummary]:
    """The viewer's listed accounts; raises the service's own refusal for the first id that is
    not the viewer's to manage (a stranger's: not found; an assigned one: not the owner)."""
    mine = {a.id: a for a in (await accounts.softphone(v.deps, v.user)).owned}
    for account_id in dict.fromkeys(ids):
        if account_id not in mine:
            card = await accounts.get_card(v.deps, v.user, account_id)
            if card.role is not Role.OWNER:
                raise errors.NotOwner(account_id=account_id)
    return mine


@router.post("/bulk")
async def bulk_action(v: Acting, body: Bulk, request: Request) -> HTMLResponse:
    """One ``services.bulk`` call, as the bot's /bulk and the API make it: all or nothing (a
    refusal is a problem naming the first account refused; nothing is changed)."""
    ids = list(dict.fromkeys(body.ids))
    await _mine(v, ids)
    if body.action == "links":
        made = await bulk.create_links(v.deps, v.user, v.user.id, ids)
        bot = request.app.state.bot_username
        pairs = [(m.account_id, _link_url(bot, m.token)) for m in made]
        return _html(views.links(v.lang, pairs, made[0].expires_at if made else None, []))
    done = await bulk.set_enabled(v.deps, v.user, v.user.id, ids, body.action == "enable")
    return _html(views.outcome(v.lang, len(done.changed) + len(done.unchanged), []))


def _link_url(bot: str | None, token: str) -> str:
    return f"https://t.me/{bot}?start={token}" if bot else token


@router.post("/sheet")
async def sheet(v: Acting, body: Selection, request: Request) -> Response:
    """New settings links for the selected accounts as the sheet to print (PDF, a QR card
    each; docs/bulk.md): the accounts move to the links section, as with Settings links."""
    ids = list(dict.fromkeys(body.ids))
    await _mine(v, ids)
    bot = request.app.state.bot_username
    if not bot:
        raise errors.StateConflict("No bot username is known: links need one.")
    made = await bulk.create_links(v.deps, v.user, v.user.id, ids)
    cards = [Card.of(m, _link_url(bot, m.token)) for m in made]
    sheet = await asyncio.to_thread(pdf, cards, v.lang)  # CPU: off the event loop
    return Response(
        sheet,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="links.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/unused")
async def unused_view(v: Acting) -> HTMLResponse:
    """The viewer's unused accounts (R11, as the bot's /unused), a Disable button each."""
    rows = await accounts.unused(v.deps, v.user)
    return _html(views.unused(v.lang, rows, v.deps.rules.unused_days))


CSV_COLUMNS = ("id", "login", "domain", "transport", "port", "state", "user", "payer", "error")


def _cell(value: object) -> str:
    """No cell starts a formula when the file is opened in a spreadsheet."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.post("/export")
async def export(v: Acting, body: Selection) -> Response:
    mine = await _mine(v, body.ids)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for account_id in dict.fromkeys(body.ids):
        a = mine.get(account_id)
        if a is None:
            continue  # the viewer's, but in the links section
        user = a.user_label if a.assigned else ""
        row = (a.id, a.login, a.domain, a.transport, a.port, state_text(v.lang, a), user)
        writer.writerow([_cell(x) for x in (*row, payer_text(v.lang, a), table.last_error(a))])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="accounts.csv"',
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------ one account's settings


async def _owner_card(v: Viewer, account_id: int) -> accounts.Card:
    card = await accounts.get_card(v.deps, v.user, account_id)  # a stranger: AccountNotFound
    if card.settings is None:  # an assigned user sees no settings (R5)
        raise errors.AssignedUserLimit(account_id=account_id)
    return card


@router.get("/accounts/{account_id}/settings")
async def settings_view(v: Acting, account_id: int) -> HTMLResponse:
    card = await _owner_card(v, account_id)
    assert card.settings is not None
    return _html(views.settings_form(v.lang, account_id, card.settings, card.etag, {}))


@router.post("/accounts/{account_id}/settings")
async def settings_change(
    v: Acting, account_id: int, body: dict[str, str | bool | None]
) -> HTMLResponse:
    """Save what changed, with the ETag the form was read with as If-Match; a refusal gives the
    form back as typed (the password field empty), the errors next to their fields."""
    card = await _owner_card(v, account_id)
    assert card.settings is not None
    read_as = body.get("etag")
    basis = read_as if isinstance(read_as, str) and read_as else None
    current = form.current_values(card.settings)
    parsed = form.parse(body, current)
    problems = {name: t(v.lang, key, **params) for name, (key, params) in parsed.errors.items()}
    for name, reason in form.field_errors(current, parsed.changes).items():
        problems.setdefault(name, error_text(v.lang, errors.InvalidSettings(reason=reason)))
    typed: dict[str, Any] = {**card.settings, **{k: x for k, x in body.items() if k in form.FIELDS}}

    def as_typed(status: int, **shown: Any) -> HTMLResponse:
        # the ETag it was read with, not today's: a change made meanwhile is not overwritten
        page = views.settings_form(v.lang, account_id, typed, basis or card.etag, **shown)
        return _html(page, status)

    if problems:
        return as_typed(422, errors=problems)
    if not parsed.changes:
        return as_typed(200, errors={}, notice=t(v.lang, "miniapp.unchanged"))
    try:
        await accounts.update_settings(v.deps, v.user, account_id, if_match=basis, **parsed.changes)
    except errors.InvalidSettings as exc:  # a rule about several fields at once
        return as_typed(422, errors={}, form_error=error_text(v.lang, exc))
    except errors.StaleWrite as exc:  # changed by someone else since it was read: show theirs
        card = await _owner_card(v, account_id)
        assert card.settings is not None
        page = views.settings_form(
            v.lang, account_id, card.settings, card.etag, {}, form_error=error_text(v.lang, exc)
        )
        return _html(page, 412)
    card = await _owner_card(v, account_id)
    assert card.settings is not None
    saved = t(v.lang, "miniapp.saved")
    return _html(views.settings_form(v.lang, account_id, card.settings, card.etag, {}, saved))
