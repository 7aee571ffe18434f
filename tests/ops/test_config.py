"""Settings from the environment, an env file and ``_FILE`` files; ``telesip config show``;
``.env.example`` lists every setting with its default."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telesip.cli import app
from telesip.config import Settings
from telesip.domain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TELESIP_* from outside and no stray ./.env: each test says what it sets."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("TELESIP_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_env_file_named_by_telesip_env_file_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "telesip.env"
    env_file.write_text(
        "# comment\nTELESIP_MAX_CALLS=7\nTELESIP_LOG_LEVEL=DEBUG\n"
        "export TELESIP_SIP_BIND=0.0.0.0:5070\n"
    )
    monkeypatch.setenv("TELESIP_ENV_FILE", str(env_file))
    monkeypatch.setenv("TELESIP_LOG_LEVEL", "WARNING")
    settings = Settings()
    assert settings.max_calls == 7
    assert settings.sip_bind == "0.0.0.0:5070"
    assert settings.log_level == "WARNING"  # the environment over the file
    assert settings.ring_timeout_seconds == 45  # untouched: the default


def test_dot_env_in_the_working_directory_is_read_when_present(clean: Path) -> None:
    assert Settings().max_calls == 100
    (clean / ".env").write_text("TELESIP_MAX_CALLS=3\n")
    assert Settings().max_calls == 3


def test_a_named_env_file_that_is_missing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELESIP_ENV_FILE", "/nonexistent/telesip.env")
    with pytest.raises(ConfigError, match="TELESIP_ENV_FILE"):
        Settings()


def test_secrets_from_files_in_the_environment_and_in_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("123456:ABC-token\n")
    (tmp_path / "key").write_text("  key-material  \n")
    (tmp_path / "db").write_text("postgresql+asyncpg://u:pw@db/telesip")
    env_file = tmp_path / "env"
    env_file.write_text(f"TELESIP_SECRET_KEY_FILE={tmp_path / 'key'}\n")
    monkeypatch.setenv("TELESIP_ENV_FILE", str(env_file))
    monkeypatch.setenv("TELESIP_BOT_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("TELESIP_DATABASE_URL_FILE", str(tmp_path / "db"))
    settings = Settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "123456:ABC-token"
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "key-material"
    assert settings.database_url == "postgresql+asyncpg://u:pw@db/telesip"


def test_the_environment_value_wins_over_a_file_in_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("from-file")
    env_file = tmp_path / "env"
    env_file.write_text(f"TELESIP_BOT_TOKEN_FILE={tmp_path / 'token'}\n")
    monkeypatch.setenv("TELESIP_ENV_FILE", str(env_file))
    monkeypatch.setenv("TELESIP_BOT_TOKEN", "from-env")
    token = Settings().bot_token
    assert token is not None and token.get_secret_value() == "from-env"


def test_both_forms_in_one_place_and_unreadable_files_are_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("123:abc")
    monkeypatch.setenv("TELESIP_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELESIP_BOT_TOKEN_FILE", str(tmp_path / "token"))
    with pytest.raises(ConfigError, match="TELESIP_BOT_TOKEN and TELESIP_BOT_TOKEN_FILE"):
        Settings()
    monkeypatch.delenv("TELESIP_BOT_TOKEN")
    monkeypatch.setenv("TELESIP_BOT_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"TELESIP_BOT_TOKEN_FILE.*missing"):
        Settings()


def test_cli_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["config", "show"], env={"TELESIP_SECRET_KEY_FILE": str(tmp_path / "nokey")}
    )
    assert result.exit_code == 2
    assert "TELESIP_SECRET_KEY_FILE" in result.output and "nokey" in result.output
    assert "Traceback" not in result.output


def test_config_show_gives_sources_and_masks_secrets(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("123456:SUPERSECRETTOKEN\n")
    env_file = tmp_path / "env"
    env_file.write_text(
        "TELESIP_MAX_CALLS=9\nTELESIP_SECRET_KEY=SECRETKEYMATERIAL\n"
        "TELESIP_REDIS_URL=redis://:REDISPASSWORD@127.0.0.1:6379/0\n"
    )
    env = {
        "TELESIP_ENV_FILE": str(env_file),
        "TELESIP_BOT_TOKEN_FILE": str(tmp_path / "token"),
        "TELESIP_DATABASE_URL": "postgresql+asyncpg://telesip:DBPASSWORD@db:5432/telesip",
    }
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        for secret in ("SUPERSECRETTOKEN", "SECRETKEYMATERIAL", "REDISPASSWORD", "DBPASSWORD"):
            assert secret not in result.output
    doc = json.loads(result.output)
    rows = {row["name"]: row for row in doc["settings"]}
    assert doc["env_file"] == str(env_file)
    assert set(rows) == {"TELESIP_" + name.upper() for name in Settings.model_fields}
    assert rows["TELESIP_MAX_CALLS"] == {
        "name": "TELESIP_MAX_CALLS",
        "value": "9",
        "source": f"env file {env_file}",
    }
    assert rows["TELESIP_BOT_TOKEN"]["value"] == "***"
    assert rows["TELESIP_BOT_TOKEN"]["source"].startswith(f"file {tmp_path / 'token'}")
    assert rows["TELESIP_SECRET_KEY"]["value"] == "***"
    assert rows["TELESIP_DATABASE_URL"] == {
        "name": "TELESIP_DATABASE_URL",
        "value": "postgresql+asyncpg://telesip:***@db:5432/telesip",
        "source": "environment",
    }
    assert rows["TELESIP_REDIS_URL"]["value"] == "redis://:***@127.0.0.1:6379/0"
    assert rows["TELESIP_RTP_PORTS"] == {
        "name": "TELESIP_RTP_PORTS",
        "value": "20000-20999",
        "source": "default",
    }


def _default_text(default: object) -> str:
    if default is None:
        return ""
    return str(default).lower() if isinstance(default, bool) else str(default)


def test_env_example_lists_every_setting_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = dict(re.findall(r"^# (TELESIP_[A-Z0-9_]+)=(.*)$", text, re.MULTILINE))
    expected = {
        "TELESIP_" + name.upper(): _default_text(field.default)
        for name, field in Settings.model_fields.items()
    }
    assert listed == expected
    # and the file, used as it is, changes nothing: every setting line is commented out
    assert not re.search(r"^TELESIP_", text, re.MULTILINE)
