"""``telesip accounts import``: a real import into a SQLite file, --dry-run, --json, and bad
files refused with one line and exit 1 (no traceback, no password)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telesip.cli import app
from tests.importing.helpers import SERVER, sample

CSV = b'login;password;server\n101;"pa;ss-one";pbx.example.com\n102;two-pw;pbx.example.com\n'


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_DATABASE_URL": "",
        "TELESIP_SECRET_KEY": "",
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_import_dry_run_then_for_real_then_again(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(CSV)
    assert invoke(env, "subscriptions", "set", "77", "office")[0] == 0
    code, out = invoke(env, "accounts", "import", str(path), "--owner", "77", "--dry-run")
    assert code == 0 and "would import: 2 new, 0 changed, 0 identical skipped" in out, out
    code, out = invoke(env, "accounts", "list", "--json")
    assert json.loads(out) == []
    code, out = invoke(env, "accounts", "import", str(path), "--owner", "77")
    assert code == 0 and "imported: 2 new" in out
    code, out = invoke(env, "accounts", "import", str(path), "--owner", "77", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["counts"] == {"new": 0, "changed": 0, "identical": 2, "taken": 0, "errors": 0}
    assert result["applied"] is False and result["issues"] == []
    assert "pa;ss-one" not in out and "two-pw" not in out


def test_a_pbx_format_with_its_server(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "pjsip.conf"
    path.write_bytes(sample("pjsip.conf"))
    assert invoke(env, "subscriptions", "set", "77", "office")[0] == 0
    code, out = invoke(env, "accounts", "import", str(path), "--owner", "77")
    assert code == 1 and "give its address" in out and "Traceback" not in out
    code, out = invoke(
        env, "accounts", "import", str(path), "--owner", "77", "--server", SERVER, "--json"
    )
    assert code == 0 and json.loads(out)["counts"]["new"] >= 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04" + b"\x00" * 100, "not text"),
        (b"hello;world\nthis is not;an import\n", "Not a known import format"),
        (b"login;password;server\n" + b"x" * 10_000 + b"\n", "longer than"),
        ("login;password;server\n1;пароль;h\n".encode("utf-16-le"), "not readable text"),
    ],
)
def test_bad_files_exit_1_with_one_line(
    env: dict[str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    assert invoke(env, "subscriptions", "set", "77", "office")[0] == 0
    code, out = invoke(env, "accounts", "import", str(path), "--owner", "77")
    assert code == 1 and message in out and "Traceback" not in out, out


def test_unknown_owner_and_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(CSV)
    code, out = invoke(env, "accounts", "import", str(path), "--owner", "404")
    assert code == 1 and "not known" in out and "Traceback" not in out
    code, out = invoke(env, "accounts", "import", str(tmp_path / "nope.csv"), "--owner", "77")
    assert code == 2 and "Traceback" not in out
