"""Importing accounts: ``POST /accounts/import`` takes a file (``multipart/form-data``, part
``file``) or rows (``application/json``), with the owner, the PBX's address and ``dry_run`` as
query parameters, and answers with the plan or what was written (docs/import.md).

The body is read here, not by FastAPI: an upload is spooled as it arrives (``api/uploads.py``)
and may be far larger than other bodies (``errors.MAX_IMPORT``, counted here too for a chunked
body). A file refused as a whole is 422 with the issue's code (``import.bad_encoding`` ...) and
its text in the request's language; missing seats are 402 ``seats_missing``; nothing is written
in either case. No part of the body is logged.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from telesip import i18n, importing
from telesip.api import problems, schemas
from telesip.api.auth import Auth
from telesip.api.errors import BODY, MAX_IMPORT, responses
from telesip.api.schemas import MAX_ID
from telesip.api.uploads import BadUpload, PayloadTooLarge, spool_file_part
from telesip.domain import errors
from telesip.domain.settings import Secret
from telesip.importing import ParsedRow
from telesip.services import imports

router = APIRouter(prefix="/accounts", tags=["accounts"])

_ROW = {"$ref": "#/components/schemas/ImportRowsIn"}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, FreePBX extensions export, pjsip.conf or sip.conf",
                        }
                    },
                }
            },
            "application/json": {"schema": _ROW},
        },
    }
}


@router.post(
    "/import",
    response_model=schemas.ImportResultOut,
    summary="Import accounts from a file or rows (dry_run: only the plan)",
    operation_id="importAccounts",
    responses=responses(*BODY, 402, 403, 404, 409),
    openapi_extra=_BODY,
)
async def import_accounts(
    ctx: Auth,
    request: Request,
    owner_id: Annotated[int, Query(ge=1, le=MAX_ID, description="The owner's Telegram id")],
    server: Annotated[
        str | None,
        Query(max_length=300, description="HOST[:PORT] of the PBX (required for its formats)"),
    ] = None,
    dry_run: Annotated[bool, Query(description="Plan and check only; write nothing")] = False,
) -> Any:
    ctx.require_user(owner_id)
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.split(";")[0].strip().lower() == "application/json":
            stream: BinaryIO = await _rows_as_csv(request.stream())
            filename: str | None = None
        else:
            upload = await spool_file_part(request.stream(), content_type, limit=MAX_IMPORT)
            stream, filename = upload.file, upload.filename
    except PayloadTooLarge as exc:
        return problems.response(
            request.scope,
            413,
            "payload_too_large",
            f"The request body is larger than {exc.limit} bytes.",
            params={"limit": exc.limit},
        )
    except BadUpload as exc:
        raise errors.InvalidInput(
            f"Send the file as multipart/form-data (part 'file') or rows as JSON: {exc}"
        ) from None
    with stream:
        outcome = await imports.import_accounts(
            ctx.deps,
            None,
            stream,
            owner_id=owner_id,
            server=server,
            filename=filename,
            dry_run=dry_run,
        )
    if outcome.plan.refused:
        found = outcome.plan.issues[0]
        lang = problems.language(request.headers.get("accept-language"))
        return problems.response(request.scope, 422, found.code, issue_text(lang, found))
    return schemas.ImportResultOut.model_validate(outcome.as_dict())


def issue_text(lang: str, found: importing.Issue) -> str:
    """An issue in ``lang`` (the catalog's ``import.*`` text), with its line."""
    params = {k: v if isinstance(v, int) else str(v) for k, v in found.params.items()}
    try:
        text = i18n.t(lang, found.code).format(**params)  # a param may be named "key"
    except (KeyError, IndexError, ValueError):
        text = found.text
    return i18n.t(lang, "import.line", line=found.line, text=text) if found.line else text


async def _rows_as_csv(chunks: AsyncIterator[bytes]) -> BinaryIO:
    """JSON rows -> telesip's CSV, read by the same parser as a file."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > MAX_IMPORT:
            raise PayloadTooLarge(MAX_IMPORT)
    try:
        rows = schemas.ImportRowsIn.model_validate_json(bytes(body))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    text = io.StringIO(newline="")
    importing.write_rows(
        (
            ParsedRow(
                line=n,
                login=r.login,
                password=Secret(r.password),
                **r.model_dump(exclude={"login", "password"}),
            )
            for n, r in enumerate(rows.rows, start=2)
        ),
        text,
    )
    return io.BytesIO(text.getvalue().encode("utf-8"))
