"""Packaging: the core install runs without the extras' modules, and constraints.txt pins every
package an install of telesip[dev] takes (so bin/ and deploy/ install the same versions)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from telesip import extras

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child: hides every extra's modules as an install without them would, then imports
# each module of telesip and builds what `telesip run` starts.
WITHOUT_EXTRAS = """
import importlib, json, logging, pkgutil, sys
HIDDEN = {"numpy", "telethon", "ntgcalls", "redis", "asyncpg", "uvloop", "av"}
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
import importlib.util
real = importlib.util.find_spec
importlib.util.find_spec = lambda n, p=None: None if n.split(".")[0] in HIDDEN else real(n, p)
import telesip
from telesip import bootstrap, extras
from telesip.config import Settings
failed = []
for m in pkgutil.walk_packages(telesip.__path__, "telesip.", onerror=lambda name: None):
    if m.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(m.name)
    except ModuleNotFoundError as exc:
        failed.append(m.name)
lines = []
logging.basicConfig(level=logging.INFO)
logging.getLogger().handlers[0].emit = lambda r: lines.append(r.getMessage())
parts = sorted(bootstrap.components(Settings(bot_token="1:x")))
on = extras.log_calls_off("worker w1")
from typer.testing import CliRunner
from telesip.cli import app
login = CliRunner().invoke(app, ["telegram", "login"])
from telesip.bot.storage import make_storage
from telesip.domain.errors import ConfigError
try:
    make_storage(None, "redis://127.0.0.1:6379/0")
    redis = "no error"
except ConfigError as exc:
    redis = exc.message
print(json.dumps({"failed": sorted(failed), "parts": parts, "calls": on, "log": lines,
                  "login": [login.exit_code, login.output], "redis": redis}))
"""


def test_the_core_imports_and_starts_its_parts_without_any_extra() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout.splitlines()[-1])
    # exactly the declared wings need an extra; everything else imports
    assert found["failed"] == sorted(m for wing in extras.WINGS.values() for m in wing)
    assert found["parts"] == ["api", "bot", "worker"]
    assert found["calls"] is False
    assert found["log"] == [
        "worker w1: calls are off: this install has no call support (module 'telethon' is "
        "missing); install telesip[calls] to enable them"
    ]
    # what needs an extra says which one, in one line, instead of a traceback
    code, output = found["login"]
    assert code == 1
    assert " ".join(output.split()) == (
        "error: Configuration error: a caller account needs telesip[calls] (module 'telethon' "
        "is missing): pip install 'telesip[calls]'"
    )
    assert found["redis"] == (
        "Configuration error: TELESIP_REDIS_URL needs telesip[redis] (module 'redis' is "
        "missing): pip install 'telesip[redis]'"
    )


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_constraints_pin_every_requirement_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    wanted = list(project["dependencies"])
    for name, reqs in project["optional-dependencies"].items():
        wanted += [r for r in reqs if not r.startswith("telesip[")]
        for r in reqs:  # extras that name other extras name existing ones
            if r.startswith("telesip["):
                inner = re.findall(r"[\w-]+", r.split("[", 1)[1])
                assert set(inner) <= set(project["optional-dependencies"]) - {name}
    assert set(project["optional-dependencies"]) >= {"calls", "redis", "pg", "all", "dev"}
    for text in wanted:
        req = Requirement(text)
        pinned = pins.get(canonicalize_name(req.name))
        assert pinned is not None, f"{req.name} is not in constraints.txt: run bin/lock"
        assert req.specifier.contains(pinned, prereleases=True), (
            f"constraints.txt pins {req.name}=={pinned}, outside {req.specifier}: run bin/lock"
        )


def test_constraints_cover_what_the_dev_install_pulls_in() -> None:
    """The whole tree under telesip[dev], as installed here, is pinned (a new transitive
    dependency without a pin would float)."""
    pins = _pins()
    seen: set[str] = set()
    todo = [("telesip", frozenset({"dev", "all", "calls", "redis", "pg"}))]
    while todo:
        name, wanted_extras = todo.pop()
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            req = Requirement(text)
            env = [{"extra": e} for e in wanted_extras] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(e) for e in env):
                continue
            key = canonicalize_name(req.name)
            if key == "telesip" or key in seen:
                continue
            seen.add(key)
            todo.append((req.name, frozenset(req.extras)))
    unpinned = sorted(n for n in seen if n not in pins)
    assert unpinned == [], f"not in constraints.txt (run bin/lock): {unpinned}"
