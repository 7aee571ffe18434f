"""Every error the API returns, mapped in one place, as RFC 9457 problem details
(``api/problems.py``: ``type``, ``title``, ``status``, ``detail``, ``instance``, ``code``).

Rule errors keep their stable ``code``; the status follows from the error's place in the one
tree (``domain/errors.py``): ``STATUS`` is keyed on its kinds and a few of its leaves, nothing
else (``tests/api/test_error_statuses.py``):

=====================================  ======
invalid_api_key                        401
NotFound (account, link, offer, ...)   404
PermissionDenied (incl. out_of_scope)  403
wrong_password                         403
missing_credential (worker plane)      401
init_data_rejected (the Mini App)      401
state conflicts (not_assigned, ...)    409
precondition_failed (If-Match)         412
offer_expired, link_expired/revoked    410
other OfferError / LinkError           409
seats_exhausted, method_not_allowed    402  (the plan must change: "payment required")
unknown_plan                           422
too_many_attempts                      429
InvalidInput (incl. invalid_settings)  422
bad_assignments                        422  (404: an account not the owner's; 409: a person
                                             who has not started the bot yet)
ConflictError                          409  (retry)
storage_unavailable                    503  (with Retry-After: 5)
storage_full (the disk is full)        503  (with Retry-After: 60; docs/operations.md says why)
invalid_json                           400
invalid_request (schema validation)    422
payload_too_large                      413
=====================================  ======
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telesip import i18n
from telesip.api import problems
from telesip.domain import errors
from telesip.metrics import DOMAIN_ERRORS, INTERNAL_ERRORS
from telesip.services import operators

log = logging.getLogger(__name__)

#: the most specific class wins (looked up along the error's MRO)
STATUS: dict[type[errors.TelesipError], int] = {
    errors.InvalidApiKey: 401,
    errors.MissingCredential: 401,
    errors.InitDataRejected: 401,
    errors.NotFound: 404,
    errors.PermissionDenied: 403,
    errors.WrongPassword: 403,
    errors.TooManyAttempts: 429,
    errors.OfferError: 409,
    errors.OfferExpired: 410,
    errors.LinkError: 409,
    errors.LinkExpired: 410,
    errors.LinkRevoked: 410,
    errors.BillingError: 402,
    errors.UnknownPlan: 422,
    errors.InvalidInput: 422,
    errors.StateConflict: 409,
    errors.StaleWrite: 412,
    errors.ConflictError: 409,
    errors.StorageUnavailable: 503,
}
RETRY_AFTER_SECONDS = 5  # told to clients with every 503 (database unavailable)
RETRY_AFTER_FULL_SECONDS = 60  # a full disk lasts until the operator frees space
MAX_BODY = 64 * 1024
# A remote worker's call recording (8 kHz 16-bit mono WAV: 57.6 MB an hour) is streamed to disk
# by its handler, which counts the bytes itself; every other body is read whole, then parsed.
MAX_RECORDING = 512 * 1024 * 1024
STREAMED = re.compile(r"^/api/v1/worker/calls/\d+/recording$")
# An import file (docs/import.md: at most 32 MiB) with its multipart envelope, spooled by its
# handler as it arrives (api/uploads.py), which counts the bytes too.
MAX_IMPORT = 32 * 1024 * 1024 + 64 * 1024
IMPORT = re.compile(r"^/api/v1/accounts/import$")
# A bulk request names up to 5,000 accounts (services.bulk.MAX_BULK): ids, or rows of an
# assignment, or its CSV text (200,000 characters): read whole, like other bodies
MAX_BULK_BODY = 1024 * 1024
BULK = re.compile(r"^/api/v1/accounts/bulk/")


def status_of(exc: errors.TelesipError) -> int:
    return _status_of_class(type(exc))


def _status_of_class(kind: type[errors.TelesipError]) -> int:
    for cls in kind.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def status_of_code(code: str) -> int | None:
    """The status of an error code (for its problem-type page), or None if unknown."""
    API = {"invalid_json": 400, "invalid_request": 422, "payload_too_large": 413}
    API |= {"not_found": 404, "http_method_not_allowed": 405, "internal_error": 500}
    API |= {"invalid_idempotency_key": 400, "idempotency_key_reused": 422}
    API |= {"idempotency_in_progress": 409}
    if code in API:
        return API[code]
    todo: list[type[errors.TelesipError]] = [errors.TelesipError]
    while todo:
        cls = todo.pop()
        if cls.code == code:
            return _status_of_class(cls)
        todo.extend(cls.__subclasses__())
    return None


#: what each status means, for the per-operation ``responses`` of the OpenAPI document
DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON, or an invalid Idempotency-Key",
    401: "Missing, unknown or revoked credential",
    402: "The owner's plan does not allow it (seats, assigning)",
    403: "Out of this key's scope, or a rule forbids it",
    404: "Not found",
    409: "Conflicts with the current state (or a request with this Idempotency-Key is running)",
    410: "Expired or revoked",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    422: "Invalid input (every invalid field in errors[]), or an Idempotency-Key reused",
    429: "Too many attempts",
    503: "Database unavailable",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses an operation can return, each a problem-details body."""
    return {s: {"model": problems.Problem, "description": DESCRIPTIONS[s]} for s in statuses}


def created(out: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Plus the 201's ``Location`` header (the new resource's path)."""
    location = {"description": "The new resource", "schema": {"type": "string"}}
    return {201: {"headers": {"Location": location}}, **out}


def etagged(out: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Plus the 200's ``ETag`` header (the settings' version, for ``If-Match``)."""
    etag = {"description": "The settings' version, for If-Match", "schema": {"type": "string"}}
    return {200: {"headers": {"ETag": etag}}, **out}


#: an operator route: authentication and the database
AUTHED = (401, 503)
#: a route with a JSON body: plus malformed, too large, invalid
BODY = (400, 401, 413, 422, 503)


async def _telesip_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TelesipError)
    status = status_of(exc)
    if status == 500:
        INTERNAL_ERRORS.labels(via="api").inc()
        log.error("unmapped error %r on %s", exc, request.url.path)
        return problems.response(request.scope, 500, "internal_error", "Internal error.")
    DOMAIN_ERRORS.labels(code=exc.code, via="api").inc()
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:  # the database is away (restarting): the client retries shortly
        full = isinstance(exc, errors.StorageFull)
        headers = {"Retry-After": str(RETRY_AFTER_FULL_SECONDS if full else RETRY_AFTER_SECONDS)}
    if isinstance(exc, errors.BadAssignments):  # its reason and line are worded by the catalog
        # a file that names an account not the owner's is what a bulk change of that id gets
        # (404); a person who has not started the bot yet is the state of things (409: later)
        status = {"unknown_account": 404, "unknown_user": 409}.get(exc.params["reason"], status)
        lang = problems.language(request.headers.get("accept-language"))
        text = i18n.error_text(lang, exc, escape=False)
        return problems.response(request.scope, status, exc.code, text, headers=headers)
    return problems.response(
        request.scope, status, exc.code, exc.message, params=exc.params, headers=headers
    )


def _pointer(loc: Sequence[Any]) -> problems.FieldProblem | None:
    """Where a pydantic error is: a JSON pointer into the body, or a parameter or header."""
    if not loc:
        return None
    where, rest = str(loc[0]), [str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]]
    if where == "body":
        return problems.FieldProblem(pointer="#/" + "/".join(rest), detail="")
    if where in ("query", "path"):
        return problems.FieldProblem(parameter=rest[0] if rest else where, detail="")
    if where == "header":
        return problems.FieldProblem(header=rest[0] if rest else where, detail="")
    return problems.FieldProblem(pointer="#/" + "/".join([where, *rest]), detail="")


async def _authenticated_first(request: Request) -> JSONResponse | None:
    """401 before any body validation: a request to an operator route without a valid key,
    or to the worker control plane without a credential, learns nothing about its body (with
    the database away the body's error stands)."""
    refusal = await _unauthenticated(request)
    if isinstance(refusal, errors.InvalidApiKey | errors.MissingCredential):
        return await _telesip_error(request, refusal)
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    refused = await _authenticated_first(request)
    if refused is not None:
        return refused
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        DOMAIN_ERRORS.labels(code="invalid_json", via="api").inc()
        return problems.response(
            request.scope, 400, "invalid_json", "The request body is not valid JSON."
        )
    found: list[problems.FieldProblem] = []
    for e in errs:
        where = _pointer(e.get("loc", ())) or problems.FieldProblem(pointer="#/", detail="")
        found.append(where.model_copy(update={"detail": str(e.get("msg", "invalid"))[:500]}))
    DOMAIN_ERRORS.labels(code="invalid_request", via="api").inc()
    return problems.response(
        request.scope,
        422,
        "invalid_request",
        f"The request has {len(found)} invalid part(s); see errors.",
        params={"count": len(found)},
        errors=found[:50],
    )


def allowed_methods(app: ASGIApp, scope: Scope) -> list[str]:
    """Every method some route of ``app`` takes at this path (for ``Allow``): each method is
    tried against the routes, as the router itself would match it."""
    routes: list[BaseRoute] = list(getattr(app, "routes", ()))
    methods = [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**scope, "method": method})[0] is Match.FULL for r in routes)
    ]
    return methods


async def _unauthenticated(request: Request) -> errors.TelesipError | None:
    """Why a request to a path under an authenticated prefix is not authenticated (None when
    it is, or the path is no API's): an address that matches no route is answered 401 like
    the others, so that no one learns without a key which addresses exist. Only the presence
    of a worker's credential is checked here (it is checked against its worker's name, which
    is in the body); the workers' paths are in their public document anyway."""
    path = request.url.path
    if not path.startswith("/api/v1/"):
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if path.startswith("/api/v1/worker/"):
        return None if token else errors.MissingCredential()
    try:
        await operators.authenticate(request.app.state.services, token or None)
    except errors.TelesipError as exc:  # invalid key, or the database is away (503)
        return exc
    return None


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405):
        refusal = await _unauthenticated(request)
        if refusal is not None:
            return await _telesip_error(request, refusal)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        allow = allowed_methods(request.app, request.scope)
        headers["Allow"] = ", ".join(allow)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": ", ".join([*allow, "OPTIONS"])})
        return problems.response(
            request.scope,
            405,
            "http_method_not_allowed",
            f"This address does not take {request.method}.",
            params={"method": request.method},
            headers=headers,
        )
    codes = {404: "not_found", 413: "payload_too_large"}
    code = codes.get(exc.status_code, "http_error")
    return problems.response(request.scope, exc.status_code, code, str(exc.detail), headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    INTERNAL_ERRORS.labels(via="api").inc()
    log.exception("internal error on %s %s", request.method, request.url.path)
    return problems.response(request.scope, 500, "internal_error", "Internal error.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.TelesipError, _telesip_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit)


class BodyLimit:
    """Refuses bodies over ``MAX_BODY`` with 413 before anything parses them: by the declared
    Content-Length, and by counting the bytes of a chunked body as they arrive."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
        path = scope.get("path", "")
        streamed = bool(STREAMED.match(path) or IMPORT.match(path))
        limit = (MAX_RECORDING if STREAMED.match(path) else MAX_IMPORT) if streamed else self.limit
        if BULK.match(path):
            limit = max(limit, MAX_BULK_BODY)
        if declared is not None and not 0 <= declared <= limit:
            await self._refuse(scope, receive, send, limit)
            return
        if streamed:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit)
                return
        done = False

        async def replay() -> Message:
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await refuse_too_large(scope, receive, send, limit)


async def refuse_too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """413 for a body over ``limit`` bytes."""
    DOMAIN_ERRORS.labels(code="payload_too_large", via="api").inc()
    response = problems.response(
        scope,
        413,
        "payload_too_large",
        f"The request body is over {limit} bytes.",
        params={"limit": limit},
    )
    await response(scope, receive, send)
