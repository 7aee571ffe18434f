"""Shared by the import tests: reading samples, parsing bytes, the built-in templates."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

from telesip.importing import ParseResult, ServerDefaults, Validated, parse, validate
from telesip.importing.source import Limits

SAMPLES = Path(__file__).parent / "samples"
SERVER = "pbx.office.example"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def parse_bytes(
    data: bytes,
    *,
    server_given: bool = False,
    filename: str | None = None,
    limits: Limits = Limits(),
) -> ParseResult:
    return parse(io.BytesIO(data), server_given=server_given, filename=filename, limits=limits)


def builtin_templates() -> dict[str, ServerDefaults]:
    """The shipped catalog as the service would pass it (read here, not through services)."""
    text = resources.files("telesip").joinpath("data/templates.json").read_text("utf-8")
    fields = ("domain", "transport", "port", "tls_port", "expires", "dtmf_mode")
    return {
        item["id"]: ServerDefaults(**{k: item.get(k) for k in fields})
        for item in json.loads(text)["templates"]
    }


def load(
    data: bytes,
    *,
    server: str | None = None,
    filename: str | None = None,
    templates: dict[str, ServerDefaults] | None = None,
    limits: Limits = Limits(),
) -> Validated:
    parsed = parse_bytes(data, server_given=bool(server), filename=filename, limits=limits)
    return validate(parsed, server=server, templates=templates)


def codes(result: ParseResult | Validated) -> list[tuple[int | None, str]]:
    return [(i.line, i.code) for i in result.issues]
