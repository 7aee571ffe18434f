"""Long lists page (issue 17 item 7): /softphone with 250 SIP accounts shows 20 a page with
Previous/Next and the counts, and walking the pages shows every account once."""

from __future__ import annotations

import re

from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, links
from tests.bot.conftest import ALICE, PASSWORD, Harness, tg


async def test_250_accounts_page_with_counts(h: Harness) -> None:
    for i in range(250):
        settings = AccountSettings(
            login=f"{1000 + i}", password=Secret(PASSWORD), domain="pbx.example.com"
        )
        await accounts.create_account(h.deps, tg(ALICE), settings)
    listing = await h.command(ALICE, "/softphone")
    assert "Page 1 of 13: 1-20 of 250." in listing.content
    assert len(listing.content) < 4096
    assert listing.find_button("Previous") is None and listing.find_button("Next")
    seen: list[str] = []
    for page in range(1, 14):
        if page > 1:
            await h.fake.press_button(ALICE, listing, "Next")
            await h.fake.wait_for(
                lambda page=page: f"Page {page} of 13" in listing.content, what=f"page {page}"
            )
        ids = re.findall(r"#(\d+) \d+@pbx", listing.content)
        assert len(ids) == (20 if page < 13 else 10)
        seen += ids
    assert len(seen) == 250 == len(set(seen))
    assert "241-250 of 250" in listing.content
    assert listing.find_button("Next") is None and listing.find_button("Previous")
    await h.fake.press_button(ALICE, listing, "Previous")
    await h.fake.wait_for(lambda: "Page 12 of 13: 221-240 of 250." in listing.content)


async def test_a_short_list_has_no_paging(h: Harness) -> None:
    await h.new_account(ALICE)
    listing = await h.command(ALICE, "/softphone")
    assert "Page" not in listing.content and listing.find_button("Next") is None


async def test_links_and_the_account_picker_page(h: Harness) -> None:
    ids = []
    for i in range(45):
        settings = AccountSettings(
            login=f"{2000 + i}", password=Secret(PASSWORD), domain="pbx.example.com"
        )
        ids.append(await accounts.create_account(h.deps, tg(ALICE), settings))
    listing = await h.command(ALICE, "/links")
    await h.fake.press_button(ALICE, listing, "New link")
    await h.fake.wait_for(lambda: "Page 1 of 3: 1-20 of 45." in listing.content, what="picker")
    assert len(listing.buttons) == 21  # 20 SIP accounts and Next (Telegram allows 100)
    await h.fake.press_button(ALICE, listing, "Next")
    await h.fake.wait_for(lambda: "Page 2 of 3: 21-40 of 45." in listing.content)
    for account in ids[:25]:  # 25 links
        await links.create_link(h.deps, tg(ALICE), account)
    listing = await h.command(ALICE, "/links")
    assert "Page 1 of 2: 1-20 of 25." in listing.content
    assert len([b for b in listing.button_texts if b.startswith("Revoke")]) == 20
    await h.fake.press_button(ALICE, listing, "Next")
    await h.fake.wait_for(lambda: "Page 2 of 2: 21-25 of 25." in listing.content)
    assert len([b for b in listing.button_texts if b.startswith("Revoke")]) == 5
