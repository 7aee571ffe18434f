"""Property-based run of the app against its own OpenAPI document (schemathesis): whatever a
client sends, no request gives a 500, and every response matches the documented schema.

The app runs on a fresh SQLite database (NullPool: the ASGI test client drives the app from its
own event loop) with a key for every user and a few accounts, links and offers to find.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from sqlalchemy.pool import NullPool

from telesip.api.app import create_app
from telesip.config import Settings
from telesip.domain.model import Method, TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, links, offers, operators
from telesip.services.context import Services
from telesip.services.operators import Scope
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

TOKEN: dict[str, str] = {}


async def _prepare(db: Path) -> str:
    engine = create_engine(f"sqlite+aiosqlite:///{db}", poolclass=NullPool)
    await migrate.upgrade(engine)
    s = Services(engine, Cipher("test-secret-key-material"))
    key = await operators.create_api_key(s, "root", Scope(all=True))
    alice = TelegramUser(1, "Alice")
    for n in range(3):
        settings = AccountSettings(login=f"10{n}", password=Secret("pw"), domain="pbx.example.com")
        account_id = await accounts.create_account(s, alice, settings)
    await links.create_link(s, alice, account_id)
    await offers.create_offer(s, alice, 1, Method.ASSIGN)
    await engine.dispose()
    return key.token


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("schemathesis") / "telesip.db"
    TOKEN["value"] = asyncio.run(_prepare(db))
    engine = create_engine(f"sqlite+aiosqlite:///{db}", poolclass=NullPool)
    s = Services(engine, Cipher("test-secret-key-material"))
    app = create_app(s, Settings(), bot_username="telesip_test_bot")
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    asyncio.run(engine.dispose())


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_no_request_breaks_the_api(api_schema: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
