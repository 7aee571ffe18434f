"""Property-based run of the app against its own OpenAPI document (schemathesis, every check
it has: ``--checks all``), with an operator-wide key and with a key for one user: whatever a
client sends, no request gives a 500, every response is as documented (status, headers,
content type, schema), valid data is accepted, invalid data refused, and 405s list ``Allow``.

The app runs on a fresh SQLite database (NullPool: the ASGI test client drives the app from its
own event loop) with a key for every user and a few accounts, links and offers to find.
"""

from __future__ import annotations

import asyncio
import os
import uuid
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
from telesip.domain.operators import Scope
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, links, offers, operators
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

TOKEN: dict[str, str] = {}
IMPORT_CSV = b"login;password;server\n300;pw;pbx.example.com\n"
IMPORT_ROW = {"login": "301", "password": "pw", "server": "pbx.example.com"}


async def _prepare(db: Path) -> str:
    engine = create_engine(f"sqlite+aiosqlite:///{db}", poolclass=NullPool)
    await migrate.upgrade(engine)
    deps = Dependencies(engine, Cipher("test-secret-key-material"))
    key = await operators.create_api_key(deps, "root", Scope(all=True))
    user = await operators.create_api_key(deps, "acme", Scope(users=frozenset({1})))
    TOKEN["user"] = user.token
    alice = TelegramUser(1, "Alice")
    for n in range(3):
        settings = AccountSettings(login=f"10{n}", password=Secret("pw"), domain="pbx.example.com")
        account_id = await accounts.create_account(deps, alice, settings)
    await links.create_link(deps, alice, account_id)
    await offers.create_offer(deps, alice, 1, Method.ASSIGN)
    await engine.dispose()
    return key.token


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("schemathesis") / "telesip.db"
    TOKEN["value"] = asyncio.run(_prepare(db))
    engine = create_engine(f"sqlite+aiosqlite:///{db}", poolclass=NullPool)
    deps = Dependencies(engine, Cipher("test-secret-key-material"))
    app = create_app(deps, Settings(), bot_username="telesip_test_bot")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    # valid data may still meet the state of things: a plan without seats (402), an expired
    # link (410), settings changed since an ETag (412), besides the defaults (404, 409, ...)
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "402", "410", "412"]
    # invalid data may also be refused for its size before its shape is read (413 over 1 MiB)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    yield schema
    asyncio.run(engine.dispose())


def _beyond_the_schema(case: Any) -> Any:
    """Valid data that only the state of things refuses, made acceptable (outside ``run``, whose
    source seeds hypothesis's derandomized examples for every operation): an assignment file's
    content (422 bad_assignments) and one account in two rows; tests/api/test_bulk.py covers
    both."""
    if case.path.endswith("/bulk/assign") and isinstance(case.body, dict):
        if "csv" in case.body:
            case.body["csv"] = "account,user\n#1,1\n"
        if isinstance(case.body.get("rows"), list):
            once = {str(r.get("account_id")): r for r in case.body["rows"]}
            case.body["rows"] = list(once.values())
    return case


checks.load_all_checks()
CHECKS = checks.CHECKS.get_all()


@pytest.mark.parametrize("key", ["value", "user"], ids=["operator-wide key", "user key"])
def test_no_request_breaks_the_api(api_schema: Any, key: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN[key]}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE).map(_beyond_the_schema),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=int(os.environ.get("ST_EXAMPLES", "25")),
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if case.meta.generation.mode.is_positive:
                if "Idempotency-Key" in (case.headers or {}):
                    # a generated key repeats across bodies, and a reused key is rightly 422
                    case.headers["Idempotency-Key"] = str(uuid.uuid4())
                # whether a pattern compiles is beyond JSON Schema: random ones are refused
                # (422 invalid_settings); tests/core/test_rewrite.py covers the rules
                body = case.body if isinstance(case.body, dict) else {}
                for part in (body, body.get("settings")):
                    if isinstance(part, dict):
                        part.pop("rewrite_rules", None)
                # whether a file is one of the import formats is beyond the schema too: random
                # content is refused (422 import.*); tests/api/test_import.py covers that
                if case.path.endswith("/accounts/import") and isinstance(case.body, dict):
                    if "file" in case.body:
                        case.body["file"] = IMPORT_CSV
                    else:
                        case.body["rows"] = [IMPORT_ROW]
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except BaseException as exc:  # hypothesis raises a group of every failure it found
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
