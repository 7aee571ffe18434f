"""The two OpenAPI 3.1 documents: the operators' API (``/api/v1/openapi.json``) and the remote
workers' control plane (``/api/v1/worker/openapi.json``), each with its own security scheme.

FastAPI builds them from the routes; here every error response becomes
``application/problem+json`` with the ``Problem`` schema (FastAPI's own ``HTTPValidationError``
shape is never sent, so it is dropped), and the document is made stable (sorted keys) so that
``docs/openapi.json`` can be checked in and compared.
"""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from telesip.api import idempotency, problems

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
DESCRIPTION = (
    "Manage SIP accounts, settings links, offers, calls, server templates, subscriptions and "
    "webhooks of a telesip service. Authenticate with `Authorization: Bearer <key>` (a key "
    "made with `telesip api-keys create`). Errors are RFC 9457 problem details "
    "(`application/problem+json`); `Accept-Language: ru` words them in Russian. Every POST "
    "takes an `Idempotency-Key`: a retry with the same key and body gets the first answer."
)
WORKER_DESCRIPTION = (
    "The control plane of remote workers (`telesip worker --control-url`): join, sync "
    "(heartbeat and registration reports), leave, and the calls on their lines. Not for "
    "operators: it authenticates with a worker's one-time credential (`telesip workers add "
    "--remote`) and hands out SIP passwords. Every POST but sync, check and the recording "
    "upload takes an `Idempotency-Key`: a retry with the same key and body gets the first "
    "answer (those three are idempotent by nature)."
)


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (a UUID, say): a retry with the same key and body gets "
    "the first answer again, for 24 h; the same key with another body is 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 257, "pattern": r"^[!-~]+$"},
}


def document(
    routes: Sequence[BaseRoute],
    *,
    title: str,
    description: str,
    version: str = "1",
    idempotent_posts: bool = False,
) -> dict[str, Any]:
    doc = get_openapi(
        title=title,
        version=version,
        openapi_version="3.1.0",
        description=description,
        routes=list(routes),
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.setdefault(
        "Problem", problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for path, item in doc.get("paths", {}).items():
        if idempotent_posts and "post" in item and idempotency.covers("POST", path):
            item["post"].setdefault("parameters", []).append(IDEMPOTENCY_KEY)
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {problems.MEDIA_TYPE: {"schema": PROBLEM_REF}}
    _sorted = _sort(doc)
    assert isinstance(_sorted, dict)
    return _sorted


#: FastAPI's document model holds limits as floats; they are integers (2**63-1 included)
_LIMITS = ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf")
_BIG = {float(2**63 - 1): 2**63 - 1, float(-(2**63 - 1)): -(2**63 - 1)}


def _limit(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return _BIG.get(value, int(value))
    return value


def _sort(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _limit(value[k]) if k in _LIMITS else _sort(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sort(v) for v in value]
    return value


def write(directory: Path) -> list[Path]:
    """Write both documents into ``directory`` (the checked-in copies under docs/)."""
    from telesip.api.app import documents

    public, worker = documents()
    out = []
    for name, doc in (("openapi.json", public), ("worker-openapi.json", worker)):
        path = directory / name
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":  # python -m telesip.api.openapi [docs]
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    for written in write(target):
        print(f"wrote {written}")
    generator = target.resolve().parent / "clients" / "python" / "generate.py"
    if generator.exists():  # a checkout: the typed client's models follow the documents
        runpy.run_path(str(generator), run_name="__main__")
