"""The API under test: the app on the ``services`` fixture (SQLite and PostgreSQL), an httpx
client through ASGI, and three keys: one for every user, one for Alice's users, one for Carol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from telesip.api.app import create_app
from telesip.config import Settings
from telesip.domain.operators import Scope
from telesip.services import operators
from telesip.services.dependencies import Dependencies
from tests.bot.conftest import fake, h  # noqa: F401 - the bot harness, for test_bot_link

ALICE, BOB, CAROL, DAVE = 1001, 1002, 1003, 1004
BOT = "telesip_test_bot"


@dataclass
class Api:
    deps: Dependencies

    app: FastAPI
    client: httpx.AsyncClient
    admin: dict[str, str]  # headers of a key for every user
    alice: dict[str, str]  # a key for Alice and Bob (operator "acme")
    carol: dict[str, str]  # a key for Carol only (operator "other")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def settings_body(login: str = "100", **kw: object) -> dict[str, object]:
    return {"login": login, "password": "s3cr3t-Pa55", "domain": "pbx.example.com", **kw}


@pytest.fixture
async def api(services: Dependencies) -> AsyncIterator[Api]:
    app = create_app(services, Settings(), bot_username=BOT)
    admin = await operators.create_api_key(services, "root", Scope(all=True), "admin")
    alice = await operators.create_api_key(services, "acme", Scope(users=frozenset({ALICE, BOB})))
    carol = await operators.create_api_key(services, "other", Scope(users=frozenset({CAROL})))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Api(
            services,
            app,
            client,
            bearer(admin.token),
            bearer(alice.token),
            bearer(carol.token),
        )
