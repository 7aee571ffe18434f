"""The Mini App under test: telesip's HTTP app on the ``services`` fixture (SQLite and
PostgreSQL) with a bot token, an httpx client through ASGI, and Alice's accounts: two of hers,
one assigned to Bob; Carol has one of her own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from telesip.api.app import create_app
from telesip.config import Settings
from telesip.domain.model import Method
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from tests.core.helpers import ALICE, BOB, CAROL, sip
from tests.miniapp.signing import TOKEN

BOT = "telesip_test_bot"


@dataclass
class MiniApp:
    deps: Dependencies

    client: httpx.AsyncClient
    alice_own: int  # Alice's, used by Alice
    alice_bobs: int  # Alice's, assigned to Bob
    carols: int  # Carol's


@pytest.fixture
async def mini(services: Dependencies) -> AsyncIterator[MiniApp]:
    settings = Settings(bot_token=TOKEN, miniapp_max_age_seconds=3600)  # type: ignore[arg-type]
    app = create_app(services, settings, bot_username=BOT)
    own = await accounts.create_account(services, ALICE, sip("100"))
    bobs = await accounts.create_account(services, ALICE, sip("101"))
    offer = await offers.create_offer(services, ALICE, bobs, Method.ASSIGN)
    await offers.receive(services, BOB, offer.id)
    carols = await accounts.create_account(services, CAROL, sip("300", domain="other.example"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tg") as client:
        yield MiniApp(services, client, own, bobs, carols)
