"""Long lists page (issue 17 item 7): /softphone with 250 SIP accounts shows 20 a page with
Previous/Next and the counts, and walking the pages shows every account once."""

from __future__ import annotations

import re

from telesip.domain.calls import EndReason
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, calls, links
from tests.bot.conftest import ALICE, CAROL, PASSWORD, Harness, tg

WORKER = 3


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


async def test_calls_page_newest_first_with_counts_in_both_languages(h: Harness) -> None:
    """/calls: 45 calls page 20 at a time, newest first, each shown once; a stranger's press
    on Next shows their own (empty) history, never Alice's."""
    line = await h.new_account(ALICE)
    for i in range(45):
        call, _ = await calls.start_incoming(h.deps, line, f"+1555{i:04d}", WORKER)
        await calls.mark_ended(h.deps, call.id, EndReason.COMPLETED)
    listing = await h.command(ALICE, "/calls")
    assert "Page 1 of 3: 1-20 of 45." in listing.content
    assert listing.find_button("Previous") is None and listing.find_button("Next")
    seen: list[str] = []
    for page in range(1, 4):
        if page > 1:
            await h.fake.press_button(ALICE, listing, "Next")
            await h.fake.wait_for(
                lambda page=page: f"Page {page} of 3" in listing.content, what=f"page {page}"
            )
        seen += re.findall(r"\+1555(\d{4})", listing.content)
    assert seen == [f"{i:04d}" for i in range(44, -1, -1)]  # newest first, each once
    assert "41-45 of 45" in listing.content and listing.find_button("Next") is None
    await h.fake.press_button(ALICE, listing, "Previous")
    await h.fake.wait_for(lambda: "Page 2 of 3: 21-40 of 45." in listing.content)
    # another person's pages hold only their own calls, whatever page they ask for
    own = await h.new_account(CAROL)
    call, _ = await calls.start_incoming(h.deps, own, "+79990001122", WORKER)
    russian = await h.command(CAROL, "/calls")
    assert "Последние звонки" in russian.content and "+79990001122" in russian.content
    assert "+1555" not in russian.content and russian.find_button("Next") is None
    far = await calls.history_page(h.deps, tg(CAROL), page=5, size=20)
    assert (far.total, far.page, [c.number for c in far.calls]) == (1, 0, ["+79990001122"])


async def test_a_few_calls_have_no_paging(h: Harness) -> None:
    line = await h.new_account(ALICE)
    call, _ = await calls.start_incoming(h.deps, line, "+15550000", WORKER)
    await calls.mark_ended(h.deps, call.id, EndReason.COMPLETED)
    listing = await h.command(ALICE, "/calls")
    assert "+15550000" in listing.content and "Page" not in listing.content
    assert listing.find_button("Next") is None
