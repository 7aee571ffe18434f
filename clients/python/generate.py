"""Writes ``telesip_client/models.py`` from the two OpenAPI documents telesip checks in:
``docs/openapi.json`` (the operators' API) and ``docs/worker-openapi.json`` (the remote
workers' control plane).

The module it writes holds, for both documents, a ``TypedDict`` per object schema (required
properties ``Required``, the others optional), a ``Literal`` alias per enumeration, and the
operation tables (operationId -> method and path). The client's methods build and return those
types, so a field renamed, added as required or retyped in a document makes mypy fail on the
client, and ``tests/api/test_client.py`` fails while the written module differs from what this
script makes of the current documents. Run it after regenerating the documents:

    python clients/python/generate.py          # from the repository's root
"""

from __future__ import annotations

import json
import keyword
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {
    "PUBLIC": ROOT / "docs" / "openapi.json",
    "WORKER": ROOT / "docs" / "worker-openapi.json",
}
TARGET = Path(__file__).resolve().parent / "telesip_client" / "models.py"
SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
METHODS = ("get", "put", "post", "delete", "patch", "options", "head")

HEADER = '''"""Types of telesip's two OpenAPI documents: written by ``clients/python/generate.py``
from docs/openapi.json and docs/worker-openapi.json. Do not edit: regenerate.

An object schema is a ``TypedDict`` (its required properties ``Required``); an enumeration a
``Literal``; ``PUBLIC_OPERATIONS`` and ``WORKER_OPERATIONS`` map each operationId to its
method and path.
"""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

__all__ = [{names}]
'''


def _ref(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if "Any" in unique:
        return "Any"
    return " | ".join(unique)


def annotation(schema: dict[str, Any]) -> str:
    """The Python type of a schema (a property's, an item's, a response's)."""
    if "$ref" in schema:
        return _ref(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema and "properties" not in schema:
            return _union([annotation(s) for s in schema[key]])
    if "const" in schema:
        return f"Literal[{json.dumps(schema['const'])}]"
    if "enum" in schema:
        return "Literal[" + ", ".join(json.dumps(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([annotation({**schema, "type": k}) for k in kind])
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "array":
        return f"list[{annotation(schema.get('items', {}))}]"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"dict[str, {annotation(values)}]"
        patterns = schema.get("patternProperties")
        if patterns and values is not True:
            return f"dict[str, {_union([annotation(s) for s in patterns.values()])}]"
        return "dict[str, Any]"
    return "Any"


def response_annotation(operation: dict[str, Any]) -> str:
    """The type a successful answer of the operation has: its JSON schema's, ``str`` for text,
    ``bytes`` for any other body, None when it has none."""
    for status, response in sorted(operation["responses"].items()):
        if status.startswith("2"):
            content = response.get("content", {})
            if "application/json" in content:
                return annotation(content["application/json"].get("schema", {}))
            if any(media.startswith("text/") for media in content):
                return "str"
            return "bytes" if content else "None"
    return "None"


def _docstring(text: str, indent: str) -> list[str]:
    body = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines: list[str] = []
    for paragraph in body.split("\n\n"):
        if lines:
            lines.append("")
        lines += textwrap.wrap(" ".join(paragraph.split()), 92 - len(indent))
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [
        f'{indent}"""{lines[0]}',
        *(f"{indent}{x}" if x else "" for x in lines[1:]),
        f'{indent}"""',
    ]


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    if "properties" not in schema:
        return [f"{name} = {annotation(schema)}"]
    out = [f"class {name}(TypedDict, total=False):"]
    if schema.get("description"):
        out += _docstring(schema["description"], "    ")
    required = set(schema.get("required", []))
    properties: dict[str, Any] = schema.get("properties", {})
    for field, prop in properties.items():
        if not field.isidentifier() or keyword.iskeyword(field):
            raise SystemExit(f"{name}.{field}: not a Python identifier (use the functional form)")
        kind = annotation(prop)
        out.append(f"    {field}: {f'Required[{kind}]' if field in required else kind}")
    return out


def _merge(documents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for doc in documents.values():
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                raise SystemExit(f"schema {name} differs between the documents: rename one")
            schemas[name] = schema
    return dict(sorted(schemas.items()))


def operations(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in sorted(doc["paths"].items())
        for method, op in item.items()
        if method in METHODS
    }


def render(documents: dict[str, dict[str, Any]]) -> str:
    """The module's text for these documents (what ``TARGET`` must hold)."""
    schemas = _merge(documents)
    tables = [f"{prefix}_OPERATIONS" for prefix in documents]
    names = "".join(f"\n    {json.dumps(n)}," for n in [*schemas, *tables]) + "\n"
    out = [HEADER.format(names=names)]
    for name, schema in schemas.items():
        out.append("\n".join(["", *_schema(name, schema)]) + "\n")
    for prefix, doc in documents.items():
        rows = [
            f"    {json.dumps(i)}: ({json.dumps(m)}, {json.dumps(p)}),"
            for i, (m, p) in sorted(operations(doc).items())
        ]
        out.append(
            "\n".join(["", f"{prefix}_OPERATIONS: dict[str, tuple[str, str]] = {{", *rows, "}"])
            + "\n"
        )
    return "\n".join(out)


def load() -> dict[str, dict[str, Any]]:
    return {k: json.loads(p.read_text(encoding="utf-8")) for k, p in DOCUMENTS.items()}


def main() -> None:
    TARGET.write_text(render(load()), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
