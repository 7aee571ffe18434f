"""The Mini App's bulk actions go through services.bulk (one set of rules with the bot, the API
and the CLI): all or nothing, the printable sheet of links, and the unused accounts with a
one-press Disable; another person's id changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses

from telesip.services import accounts
from tests.core.helpers import ALICE, BOB, CAROL, sip
from tests.miniapp.conftest import MiniApp
from tests.miniapp.signing import auth


async def _enabled(mini: MiniApp, account_id: int) -> bool:
    return (await accounts.get_card(mini.deps, None, account_id)).summary.enabled


async def test_the_sheet_is_a_pdf_of_new_links(mini: MiniApp) -> None:
    h = auth(ALICE, mini.deps.clock.now())
    r = await mini.client.post("/miniapp/sheet", json={"ids": [mini.alice_own]}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and r.headers["cache-control"] == "no-store"
    table = await mini.client.get("/miniapp/table", headers=h)
    assert f'data-open="{mini.alice_own}"' not in table.text  # now in the links section
    # someone else's id, or one assigned to Bob asked by Bob: refused, no link made
    for who, ids, status in (
        (ALICE, [mini.carols], 404),
        (BOB, [mini.alice_bobs], 403),
        (CAROL, [mini.carols, mini.alice_bobs], 404),
    ):
        bad = await mini.client.post(
            "/miniapp/sheet", json={"ids": ids}, headers=auth(who, mini.deps.clock.now())
        )
        assert bad.status_code == status and bad.headers["content-type"].startswith(
            "application/problem+json"
        )
    assert (await accounts.get_card(mini.deps, None, mini.carols)).summary.via_link is False


async def test_a_refused_account_in_a_bulk_action_changes_none(mini: MiniApp) -> None:
    # a copy of Carol's enabled line: enabling it with Alice's own refuses both
    copy = await accounts.create_account(mini.deps, ALICE, sip("300", domain="other.example"))
    await accounts.set_enabled(mini.deps, ALICE, mini.alice_own, False)
    h = auth(ALICE, mini.deps.clock.now())
    r = await mini.client.post(
        "/miniapp/bulk", json={"action": "enable", "ids": [mini.alice_own, copy]}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "line_connected"
    assert not await _enabled(mini, mini.alice_own)


async def test_unused_accounts_with_one_press_disable(mini: MiniApp) -> None:
    mini.deps.rules = dataclasses.replace(mini.deps.rules, unused_days=30)
    h = auth(ALICE, mini.deps.clock.now())
    r = await mini.client.get("/miniapp/unused", headers=h)
    assert r.status_code == 200 and "No unused accounts." in r.text
    mini.deps.clock.advance(31 * 86400)  # type: ignore[attr-defined]
    h = auth(ALICE, mini.deps.clock.now())
    r = await mini.client.get("/miniapp/unused", headers=h)
    assert f'data-udisable="{mini.alice_own}"' in r.text
    assert f'data-udisable="{mini.alice_bobs}"' in r.text
    assert f'data-udisable="{mini.carols}"' not in r.text  # Carol's: not Alice's to see
    r = await mini.client.post(
        "/miniapp/bulk", json={"action": "disable", "ids": [mini.alice_own]}, headers=h
    )
    assert r.status_code == 200 and not await _enabled(mini, mini.alice_own)
    r = await mini.client.get("/miniapp/unused", headers=h)
    assert f'data-udisable="{mini.alice_own}"' not in r.text
    app = await mini.client.get("/miniapp/app", headers=h)
    assert "data-unused" in app.text and "Unused for 30 days" in app.text
    carol = await mini.client.get("/miniapp/unused", headers=auth(CAROL, mini.deps.clock.now()))
    assert f'data-udisable="{mini.carols}"' in carol.text and "Не используются" in carol.text
