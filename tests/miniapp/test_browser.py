"""The Mini App in a real browser: Debian's Chromium driven by Playwright (the system browser,
never a downloaded one) against telesip's HTTP app on a loopback port, with initData signed by
the test as Telegram would: list, search, bulk disable, the settings form with a bad value then
a good one, the printable sheet downloaded, the unused list, and forged initData refused.
Screenshots at a phone size and a desktop size go to the test's output directory (printed).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from telesip.domain.clock import FakeClock
from telesip.domain.model import TelegramUser
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from tests.conftest import make_services
from tests.core.helpers import ALICE, CAROL, sip
from tests.miniapp.serving import serving
from tests.miniapp.signing import init_data

CHROMIUM = shutil.which("chromium")
THEME = {"bg_color": "#1f2430", "text_color": "#f5f5f5", "button_color": "#3a7bd5"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _skip(reason: str) -> None:
    print(f"SKIPPED test_browser: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def sqlite_services(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Dependencies]:
    deps = await make_services("sqlite", request, tmp_path, clock)
    yield deps
    await deps.engine.dispose()


def _page_url(base: str, data: str) -> str:
    theme = quote(json.dumps(THEME))
    fragment = f"tgWebAppData={quote(data)}&tgWebAppVersion=8.0&tgWebAppThemeParams={theme}"
    return f"{base}/miniapp/#{fragment}"


async def test_the_table_in_chromium(sqlite_services: Dependencies, tmp_path: Path) -> None:
    if CHROMIUM is None:
        _skip("no Chromium (Debian package `chromium`; bin/system-deps installs it)")
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        _skip("playwright is not installed (pip install -e '.[dev]')")
    deps = sqlite_services
    ids = [await accounts.create_account(deps, ALICE, sip(str(100 + n))) for n in range(30)]
    await accounts.report_registration(deps, ids[3], "auth_failed", 403, "Forbidden")
    carols = await accounts.create_account(deps, CAROL, sip("900", domain="carol.example"))
    shots = tmp_path / "screens"
    shots.mkdir()
    print(f"screenshots: {shots}")
    outside: list[str] = []
    async with serving(deps) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
            # Telegram's own script cannot load offline; the page must work without it
            await context.route("https://telegram.org/**", lambda route: route.abort())
            page = await context.new_page()
            page.set_default_timeout(10_000)
            page.on(
                "request",
                lambda r: None if r.url.startswith(base) else outside.append(r.url),
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(_page_url(base, init_data(ALICE, deps.clock.now())))

            rows = page.locator("tbody tr[data-id]")
            await rows.first.wait_for()
            assert await rows.count() == 30
            assert "Accounts: 30" in await page.inner_text("#total")
            assert "carol.example" not in await page.content()
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(31, 36, 48)"  # themeParams.bg_color
            assert "403 Forbidden" in await page.inner_text(f'tr[data-id="{ids[3]}"]')
            await page.screenshot(path=str(shots / "phone-list.png"), full_page=False)

            # search, then bulk disable the one found
            await page.fill("#q", "105@")
            await expect(rows).to_have_count(1)
            await page.check(f'input[name=id][value="{ids[5]}"]')
            assert "Selected: 1" in await page.inner_text("#selected-count")
            await page.click("[data-bulk=disable]")
            await page.wait_for_selector("#result >> text=Done: 1. Refused: 0.")
            await page.wait_for_selector(f'tr[data-id="{ids[5]}"] .st-off')
            assert not (await accounts.get_card(deps, None, ids[5])).summary.enabled
            assert (await accounts.get_card(deps, None, ids[4])).summary.enabled

            # the settings form: a bad port, then a good one
            await page.click(f'button[data-open="{ids[5]}"]')
            await page.wait_for_selector("form#settings")
            await page.fill("#f-port", "70000")
            await page.click("form#settings button[type=submit]")
            error = page.locator("#f-port-err")
            await error.wait_for()
            assert "port must be between 1 and 65535" in await error.inner_text()
            assert await page.get_attribute("#f-port", "aria-invalid") == "true"
            await page.screenshot(path=str(shots / "phone-settings-error.png"))
            await page.fill("#f-port", "5070")
            await page.click("form#settings button[type=submit]")
            await page.wait_for_selector("text=Settings saved.")
            card = await accounts.get_card(deps, None, ids[5])
            assert card.settings is not None and card.settings["port"] == 5070

            # back to the table at a desktop size, sorted by state
            await page.set_viewport_size(DESKTOP)
            await page.click("[data-back]")
            await page.fill("#q", "")
            await expect(rows).to_have_count(30)
            await page.click("button[data-sort=state]")
            await page.wait_for_selector("th[aria-sort=ascending] >> text=State")
            await page.screenshot(path=str(shots / "desktop-list.png"), full_page=True)

            # the printable sheet: a PDF download of the selection (two more, and the one still
            # selected since the bulk disable); they leave for /links
            await page.check(f'input[name=id][value="{ids[6]}"]')
            await page.check(f'input[name=id][value="{ids[7]}"]')
            async with page.expect_download() as download:
                await page.click("[data-bulk=sheet]")
            saved = await (await download.value).path()
            assert saved is not None
            assert (await asyncio.to_thread(Path(saved).read_bytes)).startswith(b"%PDF")
            await expect(rows).to_have_count(27)
            assert (await accounts.get_card(deps, None, ids[6])).summary.via_link
            # the unused accounts (none: all were created today)
            await page.click("[data-unused]")
            await page.wait_for_selector("#result >> text=No unused accounts.")
            assert errors == []

            # initData signed with another bot's token: refused, nothing shown
            forged = await context.new_page()
            await forged.goto(
                _page_url(base, init_data(ALICE, deps.clock.now(), token="654321:not-this-bot"))
            )
            notice = forged.locator("#notice.error")
            await notice.wait_for()
            assert "not signed by this bot" in await notice.inner_text()
            assert await forged.locator("tbody tr").count() == 0
            # a stranger's page shows only her own account
            stranger = await context.new_page()
            carol = TelegramUser(CAROL.id, "Carol", None, "en")
            await stranger.goto(_page_url(base, init_data(carol, deps.clock.now())))
            await stranger.locator("tbody tr[data-id]").first.wait_for()
            assert await stranger.locator("tbody tr[data-id]").count() == 1
            assert await stranger.get_attribute("tbody tr[data-id]", "data-id") == str(carols)
        finally:
            await browser.close()
    assert [u for u in outside if not u.startswith("https://telegram.org/")] == []
    for name in ("phone-list.png", "phone-settings-error.png", "desktop-list.png"):
        assert (shots / name).stat().st_size > 5000, name
