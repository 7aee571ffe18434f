"""A settings link created through the API and opened through the bot assigns the account
(the real dispatcher against the fake Bot API, as in the bot tests)."""

from __future__ import annotations

import httpx

from telesip.api.app import bot_username, create_app
from telesip.config import Settings
from telesip.domain.operators import Scope
from telesip.services import accounts, operators
from tests.bot.conftest import ALICE, BOB, Harness, tg

from .conftest import settings_body


async def test_link_from_the_api_opened_in_the_bot_assigns_the_account(h: Harness) -> None:
    settings = Settings(bot_token=h.fake.token, bot_api_url=h.fake.base_url)
    username = await bot_username(settings)  # getMe, as serve_api does
    assert username == h.fake.bot_username
    app = create_app(h.deps, settings, bot_username=username)
    key = await operators.create_api_key(h.deps, "acme", Scope(users=frozenset({ALICE.id})))
    headers = {"Authorization": f"Bearer {key.token}"}
    await h.command(ALICE, "/start")  # Alice talks to the bot, so it may notify her

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.post(
            "/api/v1/links",
            json={"owner": {"id": ALICE.id}, "settings": settings_body("555")},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        link = r.json()
        assert link["url"].startswith(f"https://t.me/{username}?start=") and link["qr_png"]
        token = link["url"].split("start=", 1)[1]

        opened = await h.command(BOB, f"/start {token}")
        account_id = link["account_id"]
        assert f"#{account_id}" in opened.content and "assigned to you" in opened.content

        r = await client.get(f"/api/v1/accounts/{account_id}", headers=headers)
        account = r.json()
        assert account["user_id"] == BOB.id and account["owner_id"] == ALICE.id
        assert account["assigned"] and account["via_link"]
        r = await client.get(f"/api/v1/links/{link['id']}", headers=headers)
        assert r.json()["state"] == "used" and r.json()["used_by"] == BOB.id
    assert [a.id for a in (await accounts.softphone(h.deps, tg(BOB))).assigned_to_me] == [
        account_id
    ]


async def test_offer_made_through_the_api_is_received_in_the_bot(h: Harness) -> None:
    settings = Settings(bot_token=h.fake.token, bot_api_url=h.fake.base_url)
    app = create_app(h.deps, settings, bot_username=await bot_username(settings))
    key = await operators.create_api_key(h.deps, "acme", Scope(users=frozenset({ALICE.id})))
    headers = {"Authorization": f"Bearer {key.token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.post(
            "/api/v1/accounts",
            json={"owner": {"id": ALICE.id}, "settings": settings_body("556")},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        account_id = r.json()["id"]
        r = await client.post(
            "/api/v1/offers",
            json={"account_id": account_id, "method": "assign"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        offer = r.json()
        payload = offer["url"].split("start=", 1)[1]
        assert payload.startswith("o_")

        wrong = await h.command(ALICE, f"/start {payload}")  # the sender cannot receive it
        assert "own offer" in wrong.content
        got = await h.command(BOB, f"/start {payload}")
        assert f"#{account_id}" in got.content and "received" in got.content
        again = await h.command(BOB, f"/start {payload}")
        assert "already been received" in again.content

        r = await client.get(f"/api/v1/offers/{offer['id']}", headers=headers)
        assert r.json()["state"] == "accepted" and r.json()["url"] is None
        r = await client.get(f"/api/v1/accounts/{account_id}", headers=headers)
        assert r.json()["user_id"] == BOB.id and r.json()["owner_id"] == ALICE.id
