"""The telesip command: real work on a SQLite file, and clear one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telesip.cli import app


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


def test_db_upgrade_subscriptions_accounts_and_audit(env: dict[str, str]) -> None:
    code, out = invoke(env, "db", "upgrade")
    assert code == 0 and "database at" in out
    code, out = invoke(env, "subscriptions", "set", "77", "softphone", "--seats", "3")
    assert code == 0 and "softphone" in out and "0/3" in out
    code, out = invoke(env, "subscriptions", "set", "77", "softphone-start", "--add")
    assert code == 0 and "softphone-start" in out and "softphone " in out
    code, out = invoke(env, "subscriptions", "show", "77")
    assert code == 0 and "seats used 0/3" in out
    code, out = invoke(env, "accounts", "list")
    assert code == 0, out
    code, out = invoke(env, "audit", "1")  # never existed: an error, not an empty log
    assert code == 1 and "does not exist" in out and "Traceback" not in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["subscriptions", "set", "77", "platinum"], "Unknown plan"),
        (["subscriptions", "show", "999"], "not known"),
        (["subscriptions", "remove", "999", "free"], "999 is not known"),
        (["accounts", "operator-paid", "12345"], "does not exist"),
        (["audit", "12345"], "does not exist"),
        (["audit", "12345", "--json"], "does not exist"),
        (["api-keys", "revoke", "12345"], "does not exist"),
        (["workers", "firewall", "12345"], "does not exist"),
    ],
)
def test_rule_errors_are_one_line_and_non_zero(
    env: dict[str, str], args: list[str], message: str
) -> None:
    code, out = invoke(env, *args)
    assert code == 1 and message in out and "Traceback" not in out


def test_a_selector_naming_no_one_is_an_error_everywhere(
    env: dict[str, str], tmp_path: Path
) -> None:
    """An unknown owner, account, key or operator in any command's selector is exit 1 with
    one line naming it, never an empty answer with exit 0 ("No accounts selected")."""
    assert invoke(env, "subscriptions", "set", "77", "office")[0] == 0  # 77 known, 999 not
    assignments = tmp_path / "assign.csv"
    assignments.write_text("account,user\n1,77\n")
    cases = [
        (["accounts", "list", "--owner", "999"], "user 999 is not known"),
        (["accounts", "unused", "--owner", "999", "--json"], "user 999 is not known"),
        (["accounts", "disable", "--owner", "999", "--group", "enabled", "-y"], "999 is not"),
        (["accounts", "enable", "--owner", "999", "--group", "disabled", "-y"], "999 is not"),
        (["accounts", "delete", "--owner", "999", "--group", "unused", "-y"], "999 is not"),
        (["accounts", "links", "--owner", "999", "--group", "unassigned", "--bot", "b"], "999"),
        (["accounts", "assign", str(assignments), "--owner", "999"], "user 999 is not known"),
        (["accounts", "disable", "4242", "--owner", "77"], "#4242 does not exist"),
        (["accounts", "links", "4242", "--owner", "77", "--bot", "b"], "#4242 does not exist"),
        (["api-keys", "create", "acme", "--account", "4242"], "#4242 does not exist"),
        (["api-keys", "list", "--operator", "nobody"], "operator 'nobody'"),
    ]
    for args, message in cases:
        code, out = invoke(env, *args)
        assert code == 1 and message in out and "Traceback" not in out, (args, out)
        assert "No accounts selected" not in out and "?" not in out, (args, out)  # not asked


def test_bad_configuration_is_reported_without_a_traceback(tmp_path: Path) -> None:
    cases = [
        ({"TELESIP_DATABASE_URL": "foo://nowhere"}, "unsupported database"),
        ({"TELESIP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}, "cannot reach the"),
        ({"TELESIP_OFFER_TTL_SECONDS": "-5"}, "TELESIP_OFFER_TTL_SECONDS"),
        ({"TELESIP_DEFAULT_PLAN": "gold"}, "TELESIP_DEFAULT_PLAN"),
    ]
    for extra, message in cases:
        env = {"TELESIP_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"} | extra
        proc = subprocess.run(
            [sys.executable, "-m", "telesip.cli", "accounts", "list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode != 0, extra
        assert message in proc.stderr, (extra, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
        # one line, not wrapped at 80 columns although stderr is no terminal (issue 18 item 7)
        (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
        assert message in line and proc.stderr.rstrip().endswith(line), proc.stderr


def test_a_failing_part_of_run_is_one_line(tmp_path: Path) -> None:
    """`telesip bot` with a malformed token: the bot part fails inside the TaskGroup."""
    env = {
        "TELESIP_DATA_DIR": str(tmp_path / "d"),
        "PATH": "/usr/bin:/bin",
        "TELESIP_BOT_TOKEN": "not-a-token",
        "TELESIP_BOT_API_URL": "http://127.0.0.1:9",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "telesip.cli", "bot"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "TELESIP_BOT_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_lists_and_shows_speak_json(env: dict[str, str]) -> None:
    assert invoke(env, "subscriptions", "set", "77", "softphone", "--seats", "3")[0] == 0
    code, out = invoke(env, "api-keys", "create", "acme", "--user", "77", "--name", "cabinet")
    assert code == 0
    code, out = invoke(env, "subscriptions", "show", "77", "--json")
    assert code == 0
    view = json.loads(out)
    assert view["user_id"] == 77
    assert [(x["plan"], x["seats"]) for x in view["subscriptions"]] == [("softphone", 3)]
    code, out = invoke(env, "api-keys", "list", "--json")
    keys = json.loads(out)
    assert code == 0 and [(k["operator"], k["scope"]["users"]) for k in keys] == [("acme", [77])]
    assert "tsk_" not in out.replace(keys[0]["prefix"], "")  # never the key itself
    assert invoke(env, "api-keys", "revoke", str(keys[0]["id"]))[0] == 0
    assert json.loads(invoke(env, "api-keys", "list", "--json")[1])[0]["revoked_at"]
    code, out = invoke(env, "db", "current", "--json")
    revisions = json.loads(out)
    assert (
        code == 0 and revisions["current"] and set(revisions["current"]) == set(revisions["code"])
    )
    lists = (["accounts", "list"], ["accounts", "unused"], ["workers", "list"])
    for args in (*lists, ["telegram", "list"]):
        code, out = invoke(env, *args, "--json")
        assert code == 0 and json.loads(out) == [], (args, out)
