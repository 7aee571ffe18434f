"""deploy/systemd: the units pass `systemd-analyze verify` without a warning (Debian's systemd;
bin/system-deps installs it), restart on failure, run hardened, and take their settings from
an env file and their secrets as credentials that the settings read through _FILE."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from telesip.config import Settings

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SETTINGS = {f"TELESIP_{name.upper()}" for name in Settings.model_fields}
TELESIP = Path(sys.executable).parent / "telesip"


def _lines(unit: str) -> list[str]:
    return [line.strip() for line in (UNITS / unit).read_text().splitlines()]


def test_the_units_verify_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing: bin/system-deps installs Debian's systemd")
    # ExecStart must exist where verify runs: this environment's telesip stands in for
    # /opt/telesip/venv/bin/telesip (the only change)
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/telesip/venv/bin/telesip", str(TELESIP))
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "telesip-worker@w2.service").symlink_to(tmp_path / "telesip-worker@.service")
    names = ["telesip.service", "telesip-worker@w2.service", "telesip-backup.timer"]
    out = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{n}" for n in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert (out.returncode, out.stderr, out.stdout) == (0, "", "")


@pytest.mark.parametrize(
    "unit", ["telesip.service", "telesip-worker@.service", "telesip-backup.service"]
)
def test_each_unit_runs_hardened_and_reads_secrets_as_files(unit: str) -> None:
    lines = _lines(unit)
    if unit != "telesip-backup.service":  # a oneshot the timer starts again
        assert "Restart=on-failure" in lines
    for wanted in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "User=telesip",
        "EnvironmentFile=/etc/telesip/telesip.env",
    ):
        assert wanted in lines, f"{unit}: {wanted}"
    env = dict(
        line.removeprefix("Environment=").split("=", 1)
        for line in lines
        if line.startswith("Environment=")
    )
    unknown = sorted(k for k in env if k.removesuffix("_FILE") not in SETTINGS)
    assert unknown == [], f"{unit}: not settings: {unknown}"
    credentials = {
        line.removeprefix("LoadCredential=").split(":")[0]
        for line in lines
        if line.startswith("LoadCredential=")
    }
    files = {v.removeprefix("%d/") for k, v in env.items() if k.endswith("_FILE")}
    assert files == credentials and {"secret_key", "database_url"} <= files
    assert not any(re.match(r"TELESIP_(SECRET_KEY|DATABASE_URL|BOT_TOKEN)$", k) for k in env)


def test_the_commands_they_start_exist() -> None:
    starts = [
        line.removeprefix("ExecStart=/opt/telesip/venv/bin/telesip ").split()
        for unit in ("telesip.service", "telesip-worker@.service")
        for line in _lines(unit)
        if line.startswith("ExecStart=")
    ]
    assert starts == [["run"], ["worker", "--name", "%i"]]
    backup = next(x for x in _lines("telesip-backup.service") if x.startswith("ExecStart="))
    assert "/opt/telesip/venv/bin/telesip backup " in backup
    helped = subprocess.run(
        [str(TELESIP), "worker", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--name" in helped
    helped = subprocess.run(
        [str(TELESIP), "backup", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: telesip backup" in helped
