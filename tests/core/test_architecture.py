"""The layers stay apart: domain/, sip/ and media/ import no framework, no I/O library;
services/ reach the database only through the store's repositories; bot/ and api/ only through
the services."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "telesip"
FORBIDDEN = {
    "aiogram",
    "sqlalchemy",
    "fastapi",
    "asyncio",
    "asyncpg",
    "aiosqlite",
    "socket",
    "aiohttp",
    "httpx",
    "starlette",
    "uvicorn",
    "redis",
    "alembic",
}


@pytest.mark.parametrize("package", ["domain", "sip", "media"])
def test_pure_packages_import_no_framework(package: str) -> None:
    files = list((SRC / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_domain_never_reads_the_clock() -> None:
    for path in (SRC / "domain").rglob("*.py"):
        if path.name == "clock.py":
            continue
        text = path.read_text()
        assert "datetime.now(" not in text and "time.time(" not in text, path.name


def _imported(path: Path) -> set[str]:
    """Every module a file imports, ``from a import b`` counted as both ``a`` and ``a.b``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _offending(package: str, forbidden: tuple[str, ...], exempt: set[str]) -> list[str]:
    files = [p for p in (SRC / package).rglob("*.py") if p.name not in exempt]
    assert files, f"{package} has no modules"
    return sorted(
        f"{path.relative_to(SRC)} imports {name}"
        for path in files
        for name in _imported(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


def test_services_build_no_sql() -> None:
    forbidden = ("sqlalchemy", "asyncpg", "telesip.store.tables")
    assert _offending("services", forbidden, exempt=set()) == []


@pytest.mark.parametrize("package", ["bot", "api", "miniapp"])
def test_bot_and_api_reach_the_database_only_through_services(package: str) -> None:
    assert _offending(package, ("telesip.store", "sqlalchemy", "asyncpg"), set()) == []


def test_the_miniapp_uses_no_bot_or_api_internals() -> None:
    """The Mini App is a part of its own: services and domain, like the bot and the API."""
    forbidden = ("telesip.bot", "telesip.api", "aiogram")
    assert _offending("miniapp", forbidden, set()) == []
