"""The layers stay apart: domain/ and sip/ import no framework, no I/O library."""

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


@pytest.mark.parametrize("package", ["domain", "sip"])
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
