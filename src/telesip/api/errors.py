"""Every error the API returns, mapped in one place: ``{"error": {"code", "message"}}``.

Rule errors keep their stable ``code``; the status follows from the error's class:

=====================================  ======
invalid_api_key                        401
NotFound (account, link, offer, ...)   404
PermissionDenied (incl. out_of_scope)  403
wrong_password                         403
offer_expired, link_expired/revoked    410
other OfferError / LinkError           409
seats_exhausted, method_not_allowed    402  (the plan must change: "payment required")
unknown_plan                           422
too_many_attempts                      429
InvalidInput (incl. invalid_settings)  422
ConflictError                          409  (retry)
storage_unavailable                    503
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
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telesip.domain import errors
from telesip.metrics import DOMAIN_ERRORS, INTERNAL_ERRORS
from telesip.services.operators import InvalidApiKey
from telesip.store.uow import StorageUnavailable

log = logging.getLogger(__name__)

#: the most specific class wins (looked up along the error's MRO)
STATUS: dict[type[errors.TelesipError], int] = {
    InvalidApiKey: 401,
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
    errors.ConflictError: 409,
    StorageUnavailable: 503,
}
MAX_BODY = 64 * 1024
# A remote worker's call recording (8 kHz 16-bit mono WAV: 57.6 MB an hour) is streamed to disk
# by its handler, which counts the bytes itself; every other body is read whole, then parsed.
MAX_RECORDING = 512 * 1024 * 1024
STREAMED = re.compile(r"^/api/v1/worker/calls/\d+/recording$")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def status_of(exc: errors.TelesipError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


#: documented on every route, so clients (and schemathesis) know every error's shape
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Malformed JSON"),
        (401, "Missing, unknown or revoked API key"),
        (402, "The owner's plan does not allow it (seats, assigning)"),
        (403, "Out of this key's scope, or a rule forbids it"),
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (410, "Expired or revoked"),
        (413, "Request body too large"),
        (422, "Invalid input"),
        (429, "Too many attempts"),
        (503, "Database unavailable"),
    )
}


async def _telesip_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TelesipError)
    status = status_of(exc)
    if status == 500:
        INTERNAL_ERRORS.labels(via="api").inc()
        log.error("unmapped error %r on %s", exc, request.url.path)
        return error_response(500, "internal_error", "Internal error.")
    DOMAIN_ERRORS.labels(code=exc.code, via="api").inc()
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.message, headers)


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        DOMAIN_ERRORS.labels(code="invalid_json", via="api").inc()
        return error_response(400, "invalid_json", "The request body is not valid JSON.")
    first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
    message = f"{_location(first.get('loc', ()))}: {first.get('msg', 'invalid')}"
    if len(errs) > 1:
        message += f" (and {len(errs) - 1} more problem(s))"
    DOMAIN_ERRORS.labels(code="invalid_request", via="api").inc()
    return error_response(422, "invalid_request", message[:500])


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "http_method_not_allowed", 413: "payload_too_large"}
    code = codes.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    INTERNAL_ERRORS.labels(via="api").inc()
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Internal error.")


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
        streamed = bool(STREAMED.match(scope.get("path", "")))
        limit = MAX_RECORDING if streamed else self.limit
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
            if len(body) > self.limit:
                await self._refuse(scope, receive, send, self.limit)
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
        DOMAIN_ERRORS.labels(code="payload_too_large", via="api").inc()
        response = error_response(
            413, "payload_too_large", f"The request body is over {limit} bytes."
        )
        await response(scope, receive, send)
