"""The reverse-proxy examples send Telegram's webhook to the bot and the control plane (and the
operators' API, and the Mini App) to the API, on the ports the settings default to, and nothing
else: the Caddyfile as Caddy itself reads it (`caddy adapt`, Debian's caddy from
bin/system-deps), the nginx example by its location blocks (nginx is not installed for the
tests)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from telesip.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DEFAULTS = Settings.model_fields
WEBHOOK = str(DEFAULTS["webhook_bind"].default)  # 127.0.0.1:8081
API = str(DEFAULTS["api_bind"].default)  # 127.0.0.1:8080
WANTED = {"/tg/": WEBHOOK, "/api/v1/": API, "/miniapp/": API}


def _routes(node: Any, path: str | None = None) -> list[tuple[str | None, dict[str, Any]]]:
    """(path matcher, terminal handler) pairs of Caddy's JSON config."""
    found: list[tuple[str | None, dict[str, Any]]] = []
    if isinstance(node, dict):
        for match in node.get("match", []):
            if "path" in match:
                path = match["path"][0]
        if node.get("handler") in ("reverse_proxy", "static_response"):
            found.append((path, node))
        for value in node.values():
            found += _routes(value, path)
    elif isinstance(node, list):
        for value in node:
            found += _routes(value, path)
    return found


def test_the_caddyfile_routes_the_webhook_and_the_control_plane() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is missing: bin/system-deps installs Debian's caddy")
    out = subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    config = json.loads(out.stdout)
    (server,) = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]  # HTTPS, with a certificate Caddy manages
    routes = _routes(server["routes"])
    proxied = {p: h["upstreams"][0]["dial"] for p, h in routes if h["handler"] == "reverse_proxy"}
    assert proxied == {f"{k}*": v for k, v in WANTED.items()}
    rest = [h for p, h in routes if p is None and h["handler"] == "static_response"]
    assert [h.get("status_code") for h in rest] == [404]  # /metrics and the probes stay inside


def test_the_nginx_example_has_the_same_routes() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    blocks = dict(re.findall(r"location (\S+) \{(.*?)\}", text, re.S))
    proxied = {
        path: m.group(1)
        for path, body in blocks.items()
        if (m := re.search(r"proxy_pass http://([\d.:]+);", body))
    }
    assert proxied == WANTED
    assert "return 404;" in blocks["/"]
    assert "client_max_body_size 0;" in blocks["/api/v1/"]  # recordings from remote workers
    assert re.search(r"listen 443 ssl;", text) and "return 301 https://" in text
