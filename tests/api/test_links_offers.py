"""Settings links (with the t.me deep link and its QR code) and transfer offers."""

from __future__ import annotations

import base64
import io

from PIL import Image

from telesip.domain import errors
from telesip.domain.clock import FakeClock
from telesip.domain.model import TelegramUser
from telesip.services import links as links_svc
from telesip.services import offers as offers_svc

from .conftest import ALICE, BOB, BOT, CAROL, Api, settings_body

V1 = "/api/v1"
PNG = b"\x89PNG\r\n\x1a\n"


async def _account(api: Api, login: str = "100") -> int:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body(login)},
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_link_for_an_account_carries_deep_link_and_qr_and_is_opened_once(api: Api) -> None:
    account_id = await _account(api)
    r = await api.client.post(f"{V1}/accounts/{account_id}/links", headers=api.alice)
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["state"] == "active" and link["url"].startswith(f"https://t.me/{BOT}?start=")
    png = base64.b64decode(link["qr_png"])
    assert png.startswith(PNG) and Image.open(io.BytesIO(png)).size[0] > 50
    r = await api.client.get(f"{V1}/links/{link['id']}/qr.png", headers=api.alice)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG)

    token = link["url"].rsplit("=", 1)[1]
    opened = await links_svc.open_link(api.deps, TelegramUser(BOB, "Bob"), token)
    assert opened.account_id == account_id
    r = await api.client.get(f"{V1}/links/{link['id']}", headers=api.alice)
    assert r.json()["state"] == "used" and r.json()["used_by"] == BOB and r.json()["url"] is None
    r = await api.client.get(f"{V1}/links/{link['id']}/qr.png", headers=api.alice)
    assert r.status_code == 404
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.json()["user_id"] == BOB and r.json()["via_link"]


async def test_link_from_settings_list_and_revoke(api: Api, clock: FakeClock) -> None:
    r = await api.client.post(
        f"{V1}/links",
        json={"owner": {"id": ALICE}, "settings": settings_body("300", template="freepbx")},
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    first = r.json()
    r = await api.client.post(
        f"{V1}/links",
        json={"owner": {"id": ALICE}, "settings": settings_body("301")},
        headers=api.alice,
    )
    second = r.json()
    r = await api.client.get(f"{V1}/links?owner_id={ALICE}", headers=api.alice)
    assert [x["id"] for x in r.json()] == [first["id"], second["id"]]
    assert all(x["qr_png"] is None for x in r.json())
    r = await api.client.get(f"{V1}/links", headers=api.admin)
    assert r.status_code == 422  # every key says whose links
    r = await api.client.get(f"{V1}/links", headers=api.admin, params={"owner_id": ALICE})
    assert len(r.json()) == 2
    r = await api.client.get(f"{V1}/links?owner_id={ALICE}", headers=api.carol)
    assert r.status_code == 403
    r = await api.client.get(f"{V1}/links/{first['id']}", headers=api.carol)
    assert r.status_code == 403
    r = await api.client.delete(f"{V1}/links/{first['id']}", headers=api.carol)
    assert r.status_code == 403

    r = await api.client.delete(f"{V1}/links/{first['id']}", headers=api.alice)
    assert r.status_code == 204
    r = await api.client.get(f"{V1}/links/{first['id']}", headers=api.alice)
    assert r.json()["state"] == "revoked" and r.json()["url"] is None
    token = first["url"].rsplit("=", 1)[1]
    try:
        await links_svc.open_link(api.deps, TelegramUser(BOB), token)
        raise AssertionError("a revoked link opened")
    except errors.LinkRevoked:
        pass
    clock.advance(8 * 86400)
    r = await api.client.get(f"{V1}/links/{second['id']}", headers=api.alice)
    assert r.json()["state"] == "expired"
    r = await api.client.get(f"{V1}/links/999", headers=api.alice)
    assert r.status_code == 404 and r.json()["code"] == "link_not_found"


async def test_link_needs_the_office_plan(api: Api) -> None:
    r = await api.client.put(
        f"{V1}/users/{ALICE}/subscription", json={"plan": "softphone"}, headers=api.alice
    )
    assert r.status_code == 200
    account_id = await _account(api)
    r = await api.client.post(f"{V1}/accounts/{account_id}/links", headers=api.alice)
    assert r.status_code == 402 and r.json()["code"] == "method_not_allowed"


async def test_offers_are_received_in_the_bot_once_within_their_lifetime(
    api: Api, clock: FakeClock
) -> None:
    account_id = await _account(api)
    r = await api.client.post(
        f"{V1}/offers", json={"account_id": account_id, "method": "assign"}, headers=api.alice
    )
    assert r.status_code == 201, r.text
    offer = r.json()
    assert offer["state"] == "pending" and offer["sender_id"] == ALICE
    await offers_svc.receive(api.deps, TelegramUser(BOB), offer["id"])
    r = await api.client.get(f"{V1}/offers/{offer['id']}", headers=api.alice)
    assert r.json()["state"] == "accepted" and r.json()["recipient_id"] == BOB
    r = await api.client.get(f"{V1}/offers/{offer['id']}", headers=api.carol)
    assert r.status_code == 403

    r = await api.client.post(
        f"{V1}/offers", json={"account_id": account_id, "method": "unlink"}, headers=api.alice
    )
    unlink = r.json()
    clock.advance(301)
    try:
        await offers_svc.receive(api.deps, TelegramUser(CAROL), unlink["id"])
        raise AssertionError("an expired offer was received")
    except errors.OfferExpired:
        pass
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.json()["owner_id"] == ALICE
    for body in ({"account_id": account_id, "method": "steal"}, {"account_id": 0}):
        r = await api.client.post(f"{V1}/offers", json=body, headers=api.alice)
        assert r.status_code == 422
    r = await api.client.post(
        f"{V1}/offers", json={"account_id": 12345, "method": "assign"}, headers=api.alice
    )
    assert r.status_code == 404
    r = await api.client.get(f"{V1}/offers/12345", headers=api.alice)
    assert r.status_code == 404 and r.json()["code"] == "offer_not_found"
