"""deploy/Dockerfile's steps run as a script into a fresh virtual environment (no Docker here),
with the core and PostgreSQL only (``TELESIP_EXTRAS=pg``, no calls): the same fresh install
checks the packaging. The wheel pip built holds the migrations and every data file; the
extras' modules are absent and the core imports; the image's CMD (``telesip run``) starts and
answers the image's HEALTHCHECK, and says once that calls are off.

It costs one pip install from pip's cache with constraints.txt (about a minute on 2 cores).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import dockerfile
from tests.deploy.dockerfile import ROOT, Image

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
    venv = Path(image.env["VIRTUAL_ENV"])
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": image.env["PATH"]},
    )
    return out.stdout


def test_the_image_is_a_slim_python_311_run_by_its_own_user(image: Image) -> None:
    assert image.base == "python:3.11-slim"
    assert image.user == "telesip"
    assert image.skipped and image.skipped[0].startswith("useradd --system")
    assert image.volumes == [image.env["TELESIP_DATA_DIR"]]
    assert image.cmd == ["telesip", "run"]
    assert "/livez" in image.healthcheck[-1]
    assert not (image.root / "opt/telesip/src").exists()  # the sources are not in the image


def test_the_wheel_holds_the_migrations_and_every_data_file(image: Image) -> None:
    files = set(
        _py(
            image,
            "import importlib.metadata as m; print('\\n'.join(str(f) for f in m.files('telesip')))",
        ).split()
    )
    tracked = subprocess.run(
        ["git", "ls-files", "src/telesip"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    wanted = {p.removeprefix("src/") for p in tracked}
    missing = sorted(wanted - files)
    assert missing == [], f"not in the wheel: {missing}"
    migrations = [f for f in files if f.startswith("telesip/store/migrations/versions/")]
    assert len(migrations) >= 5
    assert {"telesip/py.typed", "telesip/data/templates.json"} <= files
    assert "telesip/bot/locale/ru/LC_MESSAGES/telesip.po" in files


def test_the_core_install_has_no_extra_and_imports(image: Image) -> None:
    found = _py(
        image,
        "import importlib.util as u; "
        f"print(' '.join(m for m in {ABSENT!r} if u.find_spec(m)) or '-'); "
        "import asyncpg, telesip.cli, telesip.api.app, telesip.bot.app, telesip.workers.service; "
        "from telesip import extras; print(extras.calls_enabled())",
    ).split()
    assert found == ["-", "False"]


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def running(image: Image) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = dict(image.env) | {
        "HOME": str(image.root),
        "TELESIP_API_BIND": f"127.0.0.1:{_free_port(socket.SOCK_STREAM)}",
        "TELESIP_SIP_BIND": f"127.0.0.1:{_free_port(socket.SOCK_DGRAM)}",
    }
    assert image.workdir is not None
    proc = subprocess.Popen(
        image.cmd,
        cwd=image.workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc, env
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_telesip_run_starts_and_answers_the_healthcheck(
    image: Image, running: tuple[subprocess.Popen[str], dict[str, str]]
) -> None:
    proc, env = running
    deadline = time.monotonic() + 60
    while True:  # Docker runs the HEALTHCHECK until it passes: so does this, within a minute
        check = subprocess.run(image.healthcheck, env=env, capture_output=True, text=True)
        if check.returncode == 0:
            break
        assert proc.poll() is None, f"telesip run exited: {proc.communicate()[1]}"
        assert "HTTP Error" not in check.stderr, check.stderr[-300:]  # it answered, wrongly
        assert time.monotonic() < deadline, f"no healthy answer in 60 s: {check.stderr[-500:]}"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.count("calls are off: this install has no call support") == 1, err
    assert "Traceback" not in err
    data = Path(env["TELESIP_DATA_DIR"])
    assert (data / "telesip.db").exists() and (data / "secret.key").stat().st_mode & 0o077 == 0
