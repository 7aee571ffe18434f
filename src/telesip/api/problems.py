"""RFC 9457 problem details: the one shape of every error the API returns.

``application/problem+json`` with ``type`` (``/api/v1/problems/<code>``, a page describing the
code), ``title`` (fixed per code, English), ``status``, ``detail`` (this occurrence, in the
language ``Accept-Language`` picks: en or ru), ``instance`` (the request path) and telesip's
stable ``code`` as an extension member. A 422 for an invalid request lists every problem in
``errors``: ``{"pointer": "#/settings/login", "detail": ...}`` for the body (RFC 6901 JSON
pointers), ``{"parameter": "limit", ...}`` or ``{"header": ...}`` for the rest.

The ``detail`` texts come from the API's own texts (``api/texts.py``), then the message catalog
(``error.<code>`` keys in ``telesip.i18n``, which the bot words its errors with too), then the
error's English message. The titles are fixed English (``api/texts.py`` or the code in words).
"""

from __future__ import annotations

import html
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import Scope

from telesip import i18n
from telesip.api import texts

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/api/v1/problems/"
LANGUAGES = ("en", "ru")


class FieldProblem(BaseModel):
    """One invalid part of a request: exactly one of ``pointer``, ``parameter``, ``header``."""

    pointer: str | None = Field(default=None, description="RFC 6901 JSON pointer into the body")
    parameter: str | None = Field(default=None, description="A query or path parameter")
    header: str | None = Field(default=None, description="A request header")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI reference of the problem type (one per code)")
    title: str = Field(description="Short summary of the problem type; the same for every code")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="This occurrence, in the language Accept-Language picks")
    instance: str = Field(description="The request path")
    code: str = Field(description="telesip's stable error code")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Every invalid field (422 invalid_request)"
    )


def language(accept_language: str | None) -> str:
    """The best of en/ru for an ``Accept-Language`` header (q-values honoured; default en)."""
    best, best_q = "en", -1.0
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary == "*":
            primary = "en"
        if primary in LANGUAGES and q > 0 and q - position * 1e-6 > best_q:
            best, best_q = primary, q - position * 1e-6
    return best


def title(code: str) -> str:
    """``account_not_found`` -> ``Account not found``: fixed per code, as RFC 9457 wants."""
    return texts.TITLES.get(code) or code.replace("_", " ").capitalize()


def detail(lang: str, code: str, message: str, params: dict[str, Any] | None = None) -> str:
    """The occurrence's text: the API's own text or the catalog's ``error.<code>`` in
    ``lang``, else ``message``."""
    values: dict[str, Any] = {
        k: v if isinstance(v, int) else str(v) for k, v in (params or {}).items()
    }
    values.setdefault("message", message)
    own = texts.TEXTS.get(lang, texts.TEXTS["en"]).get(code) or texts.TEXTS["en"].get(code)
    try:
        if own is not None:
            return own.format(**values)
        if i18n.has(f"error.{code}"):
            return i18n.t(lang, f"error.{code}", **values)
    except (KeyError, IndexError, ValueError):
        pass
    return message


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def response(
    scope: Scope,
    status: int,
    code: str,
    message: str,
    *,
    params: dict[str, Any] | None = None,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem-details response for ``code`` in the request's language."""
    lang = language(header(scope, b"accept-language"))
    body = Problem(
        type=f"{TYPE_BASE}{code}",
        title=title(code),
        status=status,
        detail=detail(lang, code, message, params)[:2000],
        instance=str(scope.get("path", "")),
        code=code,
        errors=errors,
    )
    out = {k: v for k, v in body.model_dump().items() if v is not None}
    extra = {"Content-Language": lang, "Vary": "Accept-Language"}
    return JSONResponse(out, status, headers=extra | (headers or {}), media_type=MEDIA_TYPE)


def page(code: str, status: int | None) -> str:
    """The HTML page a problem ``type`` URI points at."""
    lines = [
        "<!doctype html><meta charset=utf-8>",
        f"<title>{html.escape(title(code))}</title>",
        f"<h1>{html.escape(title(code))}</h1>",
        f"<p>Code <code>{html.escape(code)}</code>"
        + (f", HTTP status {status}" if status else "")
        + ".</p>",
    ]
    lines.append("<p>See the API documentation: <a href=/api/v1/docs>/api/v1/docs</a>.</p>")
    return "\n".join(lines)
