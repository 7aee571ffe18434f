"""Importing accounts from a file sent to the bot: the fake Bot API serves ``getFile`` and the
download; the document message is deleted once read; the preview, Import and Cancel; the
pending file survives a restart of the bot (it waits in the database); no password in any
message the bot sent or in the logs; every import issue code worded in both languages."""

from __future__ import annotations

import logging

import pytest

from telesip.bot.limiter import RateLimiter
from telesip.bot.locales import LANGUAGES, has
from telesip.domain.clock import FakeClock
from telesip.importing import MESSAGES
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from tests.bot.conftest import ALICE, Harness, running_bot, tg
from tests.fakes import FakeBotAPI, FakeMessage
from tests.importing.helpers import SERVER, sample

PASSWORDS = ("pa;ss-one", "two-pw-2")
CSV = (
    b'login;password;server;display_name\n101;"pa;ss-one";pbx.example.com;Desk 1\n'
    b"102;two-pw-2;pbx.example.com;\n"
)


def test_every_import_code_is_worded_in_both_languages() -> None:
    assert LANGUAGES == ("en", "ru")
    assert sorted(code for code in MESSAGES if not has(code)) == []
    assert has("import.line") and has("btn.import")


async def owned(deps: Dependencies) -> list[str]:
    return sorted(a.login for a in (await accounts.softphone(deps, tg(ALICE))).owned)


async def send_file(
    fake: FakeBotAPI, data: bytes, name: str, caption: str | None = None
) -> tuple[dict, FakeMessage]:  # type: ignore[type-arg]
    sent = fake.send_document(ALICE, data, name, caption=caption)
    preview = await fake.next_message(ALICE)
    return sent, preview


def no_secret_anywhere(fake: FakeBotAPI, caplog: pytest.LogCaptureFixture) -> None:
    sent_by_bot = " ".join(m.content + repr(m.history) for m in fake.messages(ALICE) if m.from_bot)
    requests = repr([r.params for r in fake.requests])
    for secret in PASSWORDS:
        assert secret not in sent_by_bot and secret not in requests
        assert secret not in caplog.text


@pytest.mark.both_backends
async def test_preview_then_import(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sent, preview = await send_file(h.fake, CSV, "office.csv")
    assert h.fake.calls("getFile") and h.fake.downloads
    assert h.fake.message(ALICE, sent["message_id"]).deleted  # it carried passwords
    assert "office.csv" in preview.content and "New: 2." in preview.content
    assert preview.button_texts == ["Import", "Cancel"]
    assert await owned(h.deps) == []  # a preview writes nothing
    await h.fake.press_button(ALICE, preview, "Import")
    done = h.fake.message(ALICE, preview.message_id)
    assert "Imported. New: 2. Changed: 0." in done.content and done.buttons == []
    assert await owned(h.deps) == ["101", "102"]
    # the same file again: nothing to do, no buttons
    _, again = await send_file(h.fake, CSV, "office.csv")
    assert "Identical (skipped): 2." in again.content and again.buttons == []
    no_secret_anywhere(h.fake, caplog)


async def test_cancel_drops_the_file(h: Harness) -> None:
    _, preview = await send_file(h.fake, CSV, "office.csv")
    await h.fake.press_button(ALICE, preview, "Cancel")
    assert "Import cancelled" in h.fake.message(ALICE, preview.message_id).content
    assert await owned(h.deps) == []


async def test_a_second_press_finds_it_gone(h: Harness) -> None:
    _, preview = await send_file(h.fake, CSV, "office.csv")
    stale = preview.callback_data("Import")
    await h.fake.press_button(ALICE, preview, "Import")
    answer = await h.fake.press(ALICE, preview, stale, forged=True)  # a stale client
    assert answer.show_alert and "no longer waiting" in (answer.text or "")
    assert await owned(h.deps) == ["101", "102"]


async def test_the_pending_file_survives_a_restart(
    fake: FakeBotAPI, services: Dependencies, clock: FakeClock
) -> None:
    limiter = RateLimiter(overall_per_second=1000, per_chat_burst=1000, edit_burst=1000)
    async with running_bot(fake, services, clock, limiter):
        _, preview = await send_file(fake, CSV, "office.csv")
    async with running_bot(fake, services, clock, limiter):  # another process, later
        await fake.press_button(ALICE, preview, "Import")
        assert "Imported" in fake.message(ALICE, preview.message_id).content
    assert await owned(services) == ["101", "102"]


async def test_a_pbx_file_needs_the_server_in_the_caption(h: Harness) -> None:
    sent, refused = await send_file(h.fake, sample("pjsip.conf"), "pjsip.conf")
    assert "not imported" in refused.content and "caption" in refused.content
    assert refused.buttons == [] and h.fake.message(ALICE, sent["message_id"]).deleted
    _, preview = await send_file(h.fake, sample("pjsip.conf"), "pjsip.conf", caption=SERVER)
    assert "(pjsip.conf)" in preview.content and "trunk" in preview.content
    await h.fake.press_button(ALICE, preview, "Import")
    assert "Imported" in h.fake.message(ALICE, preview.message_id).content
    assert len(await owned(h.deps)) >= 3


async def test_bad_files_are_refused_in_the_persons_language(h: Harness) -> None:
    sent, refused = await send_file(h.fake, b"PK\x03\x04" + b"\x00" * 64, "table.xlsx")
    assert "not imported" in refused.content and refused.buttons == []
    assert h.fake.message(ALICE, sent["message_id"]).deleted
    rows = b"login;password;server\n" + b"".join(
        b"%d;pw;pbx.example.com\n" % n for n in range(100_000)
    )
    _, refused = await send_file(h.fake, rows, "huge.csv")
    assert "more than 20000 accounts" in refused.content
    bad = b"login;password;server;port\n101;pw;pbx.example.com;99999\n102;pw;pbx.example.com;\n"
    _, preview = await send_file(h.fake, bad, "some.csv")
    assert "Line 2: the port of 101" in preview.content and "Errors: 1." in preview.content
    assert await owned(h.deps) == []
