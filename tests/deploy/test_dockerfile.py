"""deploy/Dockerfile's steps run as a script into a fresh virtual environment (no Docker here),
with the core and PostgreSQL only (``TELESIP_EXTRAS=pg``, no calls): the same fresh install
checks the packaging, and that the build stage compiled the SIP core the image runs. The wheel
pip built holds the migrations and every data file; the extras' modules are absent and the core
imports; the image's CMD (``telesip run``, with a bot on the fake Bot API) starts, answers the
image's HEALTHCHECK, says once that calls are off, and the bot tells a person who dials that
calls are not enabled. It costs one pip install from pip's cache with constraints.txt and one
mypyc build (about a minute on 2 cores).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from asyncio.subprocess import DEVNULL, PIPE
from pathlib import Path

import pytest

from tests.deploy import dockerfile
from tests.deploy.dockerfile import ROOT, Image
from tests.fakes.botapi import FakeBotAPI, FakeUser

ALICE = FakeUser(1001, "Alice", username="alice")

ABSENT = ("numpy", "telethon", "ntgcalls", "redis", "uvloop")  # calls, redis, uvloop extras


def _base_python(tmp: Path) -> Path:
    """A directory whose ``python`` is a Python 3.11 outside any virtual environment (what the
    base image python:3.11-slim has)."""
    found = shutil.which("python3.11") or getattr(sys, "_base_executable", sys.executable)
    bin_dir = tmp / "base-bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(found)
    return bin_dir


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    tmp = tmp_path_factory.mktemp("image")
    env = dockerfile.host_env(_base_python(tmp))
    try:
        return dockerfile.build(tmp / "root", {"TELESIP_EXTRAS": "pg"}, env)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"a RUN step failed: {exc.cmd}\n{exc.stdout}\n{exc.stderr}")


def _py(image: Image, code: str) -> str:
    """``code`` run by the image's Python in its WORKDIR, as in the container (not in this
    checkout, whose root holds the editable install's ``telesip.egg-info``: ``python -c``
    would read that distribution's metadata first)."""
    venv = Path(image.env["VIRTUAL_ENV"])
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": image.env["PATH"]},
        cwd=image.workdir,
    )
    return out.stdout


def test_the_image_is_a_slim_python_311_run_by_its_own_user(image: Image) -> None:
    assert image.stages == ["python:3.11-slim AS build", "python:3.11-slim"]
    assert image.base == "python:3.11-slim"
    assert image.user == "telesip"
    assert [step.split()[0] for step in image.skipped] == ["apt-get", "useradd"]
    assert "gcc" in image.skipped[0] and image.skipped[1].startswith("useradd --system")
    assert image.volumes == [image.env["TELESIP_DATA_DIR"]]
    assert image.cmd == ["telesip", "run"]
    assert "/livez" in image.healthcheck[-1]
    assert not (image.root / "opt/telesip/src").exists()  # the sources are not in the image


def test_the_wheel_holds_the_migrations_every_data_file_and_the_client(image: Image) -> None:
    files = set(
        _py(
            image,
            "import importlib.metadata as m; print('\\n'.join(str(f) for f in m.files('telesip')))",
        ).split()
    )
    tracked = subprocess.run(
        ["git", "ls-files", "src/telesip", "clients/python/telesip_client"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    wanted = {p.removeprefix("src/").removeprefix("clients/python/") for p in tracked}
    missing = sorted(wanted - files)
    assert missing == [], f"not in the wheel: {missing}"
    migrations = [f for f in files if f.startswith("telesip/store/migrations/versions/")]
    assert len(migrations) >= 5
    assert {"telesip/py.typed", "telesip/data/templates.json"} <= files
    assert "telesip/i18n/locale/ru/LC_MESSAGES/telesip.po" in files


def test_the_core_install_has_no_extra_but_pg(image: Image) -> None:
    found = _py(
        image,
        "import importlib.util as u; "
        f"print(' '.join(m for m in {ABSENT!r} if u.find_spec(m)) or '-'); "
        "import asyncpg; from telesip import extras; print(extras.calls_enabled())",
    ).split()
    assert found == ["-", "False"]  # the rest imports as `telesip run` starts, below


def test_the_image_runs_the_compiled_sip_core_without_its_compiler(image: Image) -> None:
    """The build stage compiled the SIP core into the environment the image copies; mypy,
    needed for that only, is gone, and the compiled modules are what the worker imports."""
    out = _py(
        image,
        "import importlib.util as u; print(u.find_spec('mypy') is None); "
        "from telesip.native import main; main(['status'])",
    ).splitlines()
    assert out[0] == "True"
    assert out[1].startswith("SIP core build: fresh (")
    assert out[1].endswith("/site-packages/telesip/sip/_compiled)")
    modules = dict(line.strip().split(": ") for line in out[2:])
    assert len(modules) >= 9
    assert set(modules.values()) == {"compiled"}, modules


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _healthy(image: Image, env: dict[str, str], proc: asyncio.subprocess.Process) -> None:
    """Docker runs the HEALTHCHECK until it passes: so does this, for at most two minutes (a
    start on a loaded 2-core machine took over one)."""
    deadline = time.monotonic() + 120
    while True:
        check = await asyncio.create_subprocess_exec(
            *image.healthcheck, env=env, stdout=DEVNULL, stderr=PIPE
        )
        _, err = await check.communicate()
        if check.returncode == 0:
            return
        assert proc.returncode is None, "telesip run exited"
        assert b"HTTP Error" not in err, err[-300:]  # it answered, wrongly
        assert time.monotonic() < deadline, f"no healthy answer in 120 s: {err[-300:]!r}"
        await asyncio.sleep(0.5)


async def test_telesip_run_starts_answers_the_healthcheck_and_the_bot_says_calls_are_off(
    image: Image,
) -> None:
    """The core install's `telesip run` with a bot (on the fake Bot API): healthy, one log
    line says calls are off, and a person who dials a number is told calls are not enabled."""
    assert image.workdir is not None
    async with FakeBotAPI(bot_username="telesip_test_bot") as fake:
        env = dict(image.env) | {
            "HOME": str(image.root),
            "TELESIP_API_BIND": f"127.0.0.1:{_free_port(socket.SOCK_STREAM)}",
            "TELESIP_SIP_BIND": f"127.0.0.1:{_free_port(socket.SOCK_DGRAM)}",
            "TELESIP_BOT_TOKEN": fake.token,
            "TELESIP_BOT_API_URL": fake.base_url,
        }
        proc = await asyncio.create_subprocess_exec(
            *image.cmd, cwd=image.workdir, env=env, stdout=DEVNULL, stderr=PIPE
        )
        try:
            await _healthy(image, env, proc)
            fake.send_text(ALICE, "/call 5551234")
            reply = await fake.next_message(ALICE, timeout=30)
            assert reply.content.startswith("Calls are not enabled on this server")
        finally:
            if proc.returncode is None:
                proc.terminate()
            _, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    err = err_bytes.decode()
    assert proc.returncode == 0, err
    assert err.count("calls are off: this install has no call support") == 1, err
    assert "Traceback" not in err
    data = Path(env["TELESIP_DATA_DIR"])
    assert (data / "telesip.db").exists() and (data / "secret.key").stat().st_mode & 0o077 == 0
