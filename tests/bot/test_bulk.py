"""/bulk on the fake Bot API: the groups with their counts, "Disable 3 accounts?" with Yes and
Cancel, a press after the accounts changed asks again, links for all not handed out come back
as a CSV and a PDF sheet, and a CSV captioned /assign assigns (a bad one assigns nothing, in the
person's language)."""

from __future__ import annotations

import csv
import io

import pytest

from telesip.services import accounts, people
from tests.bot.conftest import ALICE, BOB, CAROL, Harness, tg
from tests.core.helpers import sip


async def _make(h: Harness, n: int) -> list[int]:
    return [await accounts.create_account(h.deps, tg(ALICE), sip(f"60{i}")) for i in range(n)]


async def _enabled(h: Harness) -> list[bool]:
    return [a.enabled for a in (await accounts.softphone(h.deps, tg(ALICE))).owned]


@pytest.mark.both_backends
async def test_disable_all_asks_with_the_count(h: Harness) -> None:
    ids = await _make(h, 3)
    menu = await h.command(ALICE, "/bulk")
    assert "Enabled: 3. Disabled: 0." in menu.content
    assert "Disable all enabled (3)" in " ".join(menu.button_texts)
    assert not any("Enable all" in b for b in menu.button_texts)  # nothing disabled
    await h.fake.press_button(ALICE, menu, "Disable all enabled")
    asked = h.fake.message(ALICE, menu.message_id)
    assert asked.content == "Disable 3 accounts?" and asked.button_texts == ["✅ Yes (3)", "Cancel"]
    await h.fake.press_button(ALICE, asked, "Cancel")
    assert "nothing was changed" in h.fake.message(ALICE, menu.message_id).content
    assert await _enabled(h) == [True] * 3
    # asked again; one more account appears before Yes: the question comes back with 4
    menu = await h.command(ALICE, "/bulk")
    await h.fake.press_button(ALICE, menu, "Disable all enabled")
    await accounts.create_account(h.deps, tg(ALICE), sip("699"))
    await h.fake.press_button(ALICE, h.fake.message(ALICE, menu.message_id), "Yes (3)")
    again = h.fake.message(ALICE, menu.message_id)
    assert "changed since" in again.content and "Disable 4 accounts?" in again.content
    assert await _enabled(h) == [True] * 4
    await h.fake.press_button(ALICE, again, "Yes (4)")
    assert h.fake.message(ALICE, menu.message_id).content == "Disabled: 4."
    assert await _enabled(h) == [False] * 4
    # then delete all disabled, in Russian for Carol's accounts is the same flow
    menu = await h.command(ALICE, "/bulk")
    await h.fake.press_button(ALICE, menu, "Delete all disabled (4)")
    asked = h.fake.message(ALICE, menu.message_id)
    assert asked.content.startswith("Delete 4 accounts? This cannot be undone")
    await h.fake.press_button(ALICE, asked, "Yes (4)")
    assert (await accounts.softphone(h.deps, tg(ALICE))).owned == []
    assert ids  # gone with the rest


async def test_links_for_all_not_handed_out_come_as_csv_and_pdf(h: Harness) -> None:
    ids = await _make(h, 3)
    await accounts.reassign(h.deps, tg(ALICE), ids[0], tg(BOB))
    menu = await h.command(ALICE, "/bulk")
    await h.fake.press_button(ALICE, menu, "Links for all not handed out (2)")
    asked = h.fake.message(ALICE, menu.message_id)
    assert asked.content.startswith("Create settings links for 2 accounts?")
    await h.fake.press_button(ALICE, asked, "Yes (2)")
    assert "Settings links for 2 accounts" in h.fake.message(ALICE, menu.message_id).content
    table, sheet = await h.fake.next_message(ALICE), await h.fake.next_message(ALICE)
    assert table.document is not None and table.document.filename.endswith(".csv")
    assert table.document.data is not None
    rows = list(csv.DictReader(io.StringIO(table.document.data.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == ids[1:]
    assert all(r["link"].startswith("https://t.me/telesip_test_bot?start=") for r in rows)
    assert sheet.document is not None and sheet.document.data is not None
    assert sheet.document.data.startswith(b"%PDF")
    # the links work: Carol opens one and gets the account
    token = rows[0]["link"].split("start=", 1)[1]
    h.fake.send_text(CAROL, f"/start {token}")
    await h.fake.next_message(CAROL)
    assert (await accounts.get_card(h.deps, None, ids[1])).summary.user_id == CAROL.id


async def test_an_assignment_file(h: Harness) -> None:
    ids = await _make(h, 2)
    await people.remember(h.deps, tg(BOB))
    h.fake.send_document(
        ALICE,
        f"account,user\n#{ids[0]},@bob\n#{ids[1]},@nobody\n".encode(),
        "a.csv",
        caption="/assign",
    )
    refused = await h.fake.next_message(ALICE)
    assert "Nothing was assigned: line 3" in refused.content and "/start" in refused.content
    assert not any(a.assigned for a in (await accounts.softphone(h.deps, tg(ALICE))).owned)
    h.fake.send_document(
        ALICE, f"account,user\n#{ids[0]},@bob\n".encode(), "a.csv", caption="/assign"
    )
    assert "Assigned: 1." in (await h.fake.next_message(ALICE)).content
    assert (await accounts.get_card(h.deps, None, ids[0])).summary.user_id == BOB.id
    # Carol's own: someone else's id is not hers (nothing said about whose it is), in Russian
    h.fake.send_document(CAROL, f"{ids[1]};@bob\n".encode("cp1251"), "b.csv", caption="/assign")
    told = await h.fake.next_message(CAROL)
    assert "Ничего не назначено" in told.content and "не ваш" in told.content
