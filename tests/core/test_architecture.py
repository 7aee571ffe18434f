"""The map in docs/architecture.md, enforced: the arrows between telesip's parts that must never
exist.

A part is a top-level package or module of ``telesip`` (domain, services, store, sip, media,
calls, workers, bot, api, ...). Every import statement counts, those inside functions and under
``TYPE_CHECKING`` too: an arrow drawn only for the type checker is still an arrow a reader
follows. A failure names the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "telesip"
PARTS = sorted(
    p.stem if p.is_file() else p.name
    for p in PACKAGE.iterdir()
    if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and any(p.rglob("*.py")))
)
DATABASE = {"sqlalchemy", "asyncpg", "aiosqlite", "alembic", "redis"}
IO = {"asyncio", "socket", "selectors", "ssl", "time", "threading", "subprocess", "uvloop"}
FRAMEWORKS = {"aiogram", "fastapi", "starlette", "uvicorn", "aiohttp", "httpx"}
PURE = frozenset(DATABASE | IO | FRAMEWORKS)  # what domain, sip, media and importing never import


@dataclass(frozen=True)
class Rule:
    part: str
    never: frozenset[str]  # our parts it must not import
    outside: frozenset[str] = frozenset()  # libraries it must not import
    why: str = ""


def _only(*allowed: str) -> frozenset[str]:
    return frozenset(p for p in PARTS if p not in allowed)


FRONTS = {
    "bot",
    "api",
    "miniapp",
    "cli",
    "bootstrap",
    "doctor",
}  # what people and operators talk to
SHELLS = {"workers", "calls", "webhooks"}  # asyncio processes around the core

RULES = [
    Rule("domain", _only("domain"), PURE, "the rules import nothing of ours"),
    Rule("sip", _only("sip", "domain"), PURE, "sans-I/O: no sockets, no clock"),
    Rule("media", _only("media", "sip", "domain"), PURE, "sans-I/O: no sockets, no clock"),
    Rule("importing", _only("importing", "domain"), PURE, "pure parsing"),
    Rule("i18n", _only("i18n", "domain"), frozenset(DATABASE), "texts only"),
    Rule("printing", _only("printing", "i18n", "domain"), PURE, "paper: rows in, bytes out"),
    Rule(
        "bot",
        frozenset({"store", "api", "cli", "bootstrap"} | SHELLS),
        frozenset(DATABASE | {"fastapi", "starlette"}),
        "the bot speaks to services and the domain only",
    ),
    Rule(
        "api",
        frozenset({"store", "bot", "cli", "bootstrap", "calls"}),
        frozenset(DATABASE | {"aiogram"}),
        "the API speaks to services and the domain only",
    ),
    Rule(
        "miniapp",
        frozenset({"store", "bot", "api", "cli", "bootstrap"} | SHELLS),
        frozenset(DATABASE | {"aiogram"}),
        "the Mini App speaks to services and the domain only, like the bot and the API",
    ),
    Rule(
        "services",
        frozenset(FRONTS | SHELLS),
        frozenset(DATABASE | {"aiogram", "fastapi", "starlette"}),
        "use cases reach the database through the unit of work's repositories",
        # (and build no SQL: store.tables is the repositories' own, test below)
    ),
    Rule(
        "store",
        frozenset(FRONTS | SHELLS | {"services", "sip", "media", "i18n"}),
        frozenset({"aiogram", "fastapi", "starlette"}),
        "storage knows the domain, no use case and no front end",
    ),
    Rule("workers", frozenset(FRONTS | {"store", "webhooks"}), frozenset(), "shells use services"),
    Rule("calls", frozenset(FRONTS | {"webhooks"}), frozenset(), "shells use services"),
    Rule("webhooks", frozenset(FRONTS | SHELLS - {"webhooks"} | {"store"}), frozenset(), ""),
]


@dataclass(frozen=True)
class Arrow:
    path: Path
    line: int
    target: str  # the full dotted name imported

    def __str__(self) -> str:
        return f"{self.path.relative_to(PACKAGE)}:{self.line} imports {self.target}"


def _module_name(path: Path) -> list[str]:
    parts = (
        list(path.relative_to(SRC).with_suffix("").parts)
        if path.is_relative_to(SRC)
        else [path.stem]
    )
    return parts[:-1] if parts[-1] == "__init__" else parts


def arrows(path: Path) -> Iterator[Arrow]:
    tree = ast.parse(path.read_text(), str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Arrow(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Arrow(path, node.lineno, module)
            for alias in node.names:  # `from telesip import store` is an arrow to store
                if module == "telesip":
                    yield Arrow(path, node.lineno, f"telesip.{alias.name}")


def _files(part: str) -> list[Path]:
    if (PACKAGE / part).is_dir():
        return sorted((PACKAGE / part).rglob("*.py"))
    return [PACKAGE / f"{part}.py"]


def test_the_rules_name_real_parts() -> None:
    for rule in RULES:
        assert rule.part in PARTS, rule.part
    assert {"domain", "services", "store", "sip", "media", "bot", "api"} <= set(PARTS)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.part)
def test_no_forbidden_arrow(rule: Rule) -> None:
    broken = []
    for path in _files(rule.part):
        for arrow in arrows(path):
            top = arrow.target.split(".")
            if (top[0] == "telesip" and len(top) > 1 and top[1] in rule.never) or top[
                0
            ] in rule.outside:
                broken.append(str(arrow))
    assert not broken, f"{rule.part}: {rule.why}\n" + "\n".join(broken)


def test_bot_and_api_never_import_each_other() -> None:
    pairs = [
        ("bot", "api"),
        ("api", "bot"),
        ("miniapp", "bot"),
        ("miniapp", "api"),
        ("bot", "miniapp"),
    ]
    for a, b in pairs:
        for path in _files(a):
            assert not [x for x in arrows(path) if x.target.startswith(f"telesip.{b}")], path


def test_nothing_in_src_imports_the_tests() -> None:
    broken = [
        str(a)
        for path in PACKAGE.rglob("*.py")
        for a in arrows(path)
        if a.target.split(".")[0] in {"tests", "conftest"}
    ]
    assert not broken, "\n".join(broken)


CLOCKS = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time"), ("time", "monotonic")}
CLOCKS |= {("time", "perf_counter"), ("loop", "time")}


@pytest.mark.parametrize("part", ["domain", "sip", "media"])
def test_pure_parts_never_read_the_clock(part: str) -> None:
    """The time comes in as an argument: tests and the scheduler decide what "now" is."""
    for path in _files(part):
        if path.name == "clock.py":
            continue  # domain/clock.py is the one place that reads it, for the shells
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
            ):
                call = (node.func.value.id, node.func.attr)
                assert call not in CLOCKS, (
                    f"{path.relative_to(PACKAGE)}:{node.lineno} reads the clock"
                )


def test_the_checker_sees_an_arrow(tmp_path: Path) -> None:
    """The reader itself: relative, absolute, in-function and type-only imports all count."""
    found = {a.target for a in arrows(PACKAGE / "bot" / "views" / "cards.py")}
    assert any(t.startswith("telesip.services") for t in found), found  # relative imports too
    fake = tmp_path / "x.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from telesip.store import tables\n"
        "def f():\n    import sqlalchemy\n"
    )
    targets = {a.target for a in arrows(fake)}
    assert {"telesip.store", "sqlalchemy", "typing"} <= targets


def test_services_build_no_sql() -> None:
    """The tables belong to the repositories: a use case names none."""
    broken = [
        str(a)
        for path in _files("services")
        for a in arrows(path)
        if a.target.startswith("telesip.store.tables")
    ]
    assert not broken, "\n".join(broken)
