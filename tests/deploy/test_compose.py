"""deploy/compose.yaml: PostgreSQL 15 with a volume, `telesip run` and a second `telesip worker`,
secrets as files. Every TELESIP_ variable it sets is a setting, and the settings each service
gets (its secrets as files) are valid. Docker is not run here (no engine, no images)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from telesip.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {f"TELESIP_{name.upper()}" for name in Settings.model_fields} | {"TELESIP_ENV_FILE"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _telesip_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v for k, v in compose["services"].items() if v.get("image", "").startswith("telesip")
    }


def test_postgres_15_keeps_its_data_in_a_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"] == "postgres:15"
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "pgdata" in compose["volumes"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"


def test_the_service_and_a_second_worker_run_from_the_image(compose: dict[str, Any]) -> None:
    services = _telesip_services(compose)
    commands = sorted(" ".join(s["command"]) for s in services.values())
    assert commands == ["telesip run", "telesip worker --name w2"]
    for name, service in services.items():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert (DEPLOY.parent / service["build"]["context"].removeprefix("../")).is_dir()
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
        assert mounts["/var/lib/telesip"] in compose["volumes"], name
    # each worker its own data (caller sessions are never shared), recordings shared
    data = [s["volumes"][0].split(":")[0] for s in services.values()]
    assert len(set(data)) == len(data)
    # two workers on one host: different SIP and RTP ports
    sip = [s["environment"]["TELESIP_SIP_BIND"] for s in services.values()]
    rtp = [s["environment"]["TELESIP_RTP_PORTS"] for s in services.values()]
    assert len(set(sip)) == len(sip) and len(set(rtp)) == len(rtp)
    # the image's HEALTHCHECK reads TELESIP_METRICS_BIND, else the API: a lone worker sets it
    worker = services["worker"]["environment"]
    assert "TELESIP_METRICS_BIND" in worker and "TELESIP_API_BIND" not in worker


def test_every_variable_is_a_setting_and_every_secret_a_file(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    for name, service in _telesip_services(compose).items():
        env = service["environment"]
        unknown = sorted(
            k.removesuffix("_FILE") for k in env if k.removesuffix("_FILE") not in SETTINGS
        )
        assert unknown == [], f"{name}: not settings: {unknown}"
        for key, value in env.items():
            assert not re.search(r"(TOKEN|SECRET_KEY|DATABASE_URL|PASSWORD)$", key), (
                f"{name}: {key} is a secret: give it as {key}_FILE"
            )
            if key.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                assert secret in service["secrets"] and secret in declared, (name, key)
                assert declared[secret]["file"].startswith("./secrets/")


def test_each_service_gets_valid_settings_from_the_secrets_make_secrets_writes(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/make-secrets.sh run beside a copy of compose.yaml; the environment compose gives
    each service, with those files as /run/secrets and PUBLIC_IP filled in, read by the
    settings as the process reads it."""
    shutil.copy(DEPLOY / "make-secrets.sh", tmp_path)
    made = subprocess.run(["sh", str(tmp_path / "make-secrets.sh")], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert "now write the bot's token" in made.stderr
    secrets = tmp_path / "secrets"
    assert secrets.stat().st_mode & 0o777 == 0o700  # the files are 0644 for the containers' users
    (secrets / "bot_token").write_text("123456:ABC\n")
    files = {
        name: (tmp_path / spec["file"]).read_text().strip()
        for name, spec in compose["secrets"].items()
    }
    assert files["database_url"] == f"postgresql://telesip:{files['db_password']}@db/telesip"
    assert len(files["secret_key"]) >= 40 and len(files["db_password"]) >= 30
    again = subprocess.run(
        ["sh", str(tmp_path / "make-secrets.sh")], capture_output=True, text=True
    )
    assert (
        again.returncode == 0
        and (secrets / "secret_key").read_text().strip() == files["secret_key"]
    )
    for name, service in _telesip_services(compose).items():
        for key in [k for k in os.environ if k.startswith("TELESIP_")]:
            monkeypatch.delenv(key)
        for key, value in service["environment"].items():
            value = str(value).replace("/run/secrets", str(secrets))
            value = re.sub(r"\$\{PUBLIC_IP:\?[^}]*\}", "203.0.113.10", value)
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)  # no ./.env here
        settings = Settings()
        assert settings.database_url == files["database_url"], name
        assert settings.secret_key is not None
        assert settings.secret_key.get_secret_value() == files["secret_key"]
        assert settings.sip_advertise == "203.0.113.10"
        if name == "telesip":
            assert settings.bot_token is not None
            assert settings.bot_token.get_secret_value() == "123456:ABC"
