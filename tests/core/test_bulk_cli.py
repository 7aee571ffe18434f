"""``telesip accounts links|disable|enable|delete|assign`` on a SQLite file: the count asked
for before a change (no answer: nothing changed, exit 1), --yes, the links' CSV and printable
sheet written, and bad input refused in one line with exit 1 (no traceback)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telesip.cli import app

CSV = (
    b"login;password;server\n101;pw-one;pbx.example.com\n102;pw-two;pbx.example.com\n"
    b"103;pw-3;pbx.example.com\n"
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_DATABASE_URL": "",
        "TELESIP_SECRET_KEY": "",
    }


def invoke(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    return result.exit_code, result.output


def _accounts(env: dict[str, str]) -> list[dict[str, object]]:
    code, out = invoke(env, "accounts", "list", "--json")
    assert code == 0, out
    return list(json.loads(out))


@pytest.fixture
def three(env: dict[str, str], tmp_path: Path) -> list[int]:
    path = tmp_path / "accounts.csv"
    path.write_bytes(CSV)
    assert invoke(env, "subscriptions", "set", "77", "office")[0] == 0
    assert invoke(env, "accounts", "import", str(path), "--owner", "77")[0] == 0
    return [int(str(a["id"])) for a in _accounts(env)]


def test_disable_asks_with_the_count_and_yes_skips_it(
    env: dict[str, str], three: list[int]
) -> None:
    code, out = invoke(
        env, "accounts", "disable", "--owner", "77", "--group", "enabled", input="n\n"
    )
    assert code == 1 and "Disable 3 accounts?" in out and "Nothing was changed" in out
    assert all(a["enabled"] for a in _accounts(env))
    code, out = invoke(
        env, "accounts", "disable", *map(str, three[:2]), "--owner", "77", input="y\n"
    )
    assert code == 0 and "Disable 2 accounts?" in out and "Disabled: 2." in out
    code, out = invoke(env, "accounts", "enable", "--owner", "77", "--group", "disabled", "--yes")
    assert code == 0 and "Enabled: 2." in out and "?" not in out
    code, out = invoke(env, "accounts", "delete", str(three[2]), "--owner", "77", "-y", "--json")
    assert code == 0 and json.loads(out) == {"changed": [three[2]], "unchanged": []}
    assert [a["id"] for a in _accounts(env)] == three[:2]


def test_a_foreign_or_unknown_id_changes_nothing(env: dict[str, str], three: list[int]) -> None:
    assert invoke(env, "subscriptions", "set", "88", "office")[0] == 0
    code, out = invoke(env, "accounts", "disable", *map(str, three), "--owner", "88", "--yes")
    assert code == 1 and "#1 does not exist" in out and "Traceback" not in out
    code, out = invoke(env, "accounts", "disable", str(three[0]), "999999", "--owner", "77", "-y")
    assert code == 1 and "#999999" in out
    assert all(a["enabled"] for a in _accounts(env))
    code, out = invoke(env, "accounts", "disable", "--owner", "77", "--group", "all", "-y")
    assert code == 1 and "--group" in out


def test_links_write_the_csv_and_the_sheet(
    env: dict[str, str], three: list[int], tmp_path: Path
) -> None:
    sheet, table = tmp_path / "sheet.pdf", tmp_path / "links.csv"
    code, out = invoke(
        env, "accounts", "links", "--owner", "77", "--group", "unassigned",
        "--bot", "@office_bot", "--csv", str(table), "--sheet", str(sheet),
    )  # fmt: skip
    assert code == 0 and "Settings links: 3" in out, out
    assert sheet.read_bytes().startswith(b"%PDF")
    rows = list(csv.DictReader(io.StringIO(table.read_bytes().decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == three
    assert all(r["link"].startswith("https://t.me/office_bot?start=") for r in rows)
    code, out = invoke(
        env, "accounts", "links", str(three[0]), "--owner", "77", "--bot", "b0t_name",
        "--sheet", str(tmp_path / "page.png"),
    )  # fmt: skip
    assert code == 0 and (tmp_path / "page-1.png").read_bytes().startswith(b"\x89PNG")


def test_assign_from_a_file(env: dict[str, str], three: list[int], tmp_path: Path) -> None:
    assert invoke(env, "subscriptions", "set", "55", "free")[0] == 0  # user 55 is known
    path = tmp_path / "assign.csv"
    path.write_text(f"account,user\n#{three[0]},55\n#{three[1]},56\n")
    code, out = invoke(env, "accounts", "assign", str(path), "--owner", "77")
    assert code == 1 and "line 3" in out and "has not started the bot" in out
    assert not any(a["assigned"] for a in _accounts(env))
    path.write_text(f"account,user\n#{three[0]},55\n")
    code, out = invoke(env, "accounts", "assign", str(path), "--owner", "77")
    assert code == 0 and "Assigned: 1." in out
    path.write_bytes(b"\xff\xfe\x00\xd8garbage")
    code, out = invoke(env, "accounts", "assign", str(path), "--owner", "77")
    assert code == 1 and "Nothing was assigned" in out and "Traceback" not in out
