"""The Mini App's HTTP endpoints for every role (owner, assigned user, stranger) and for
forged, stale or missing initData: each refusal is a clear problem and changes nothing."""

from __future__ import annotations

import csv
import html
import io
import json
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from telesip.api.app import create_app
from telesip.config import Settings
from telesip.domain.model import TelegramUser
from telesip.miniapp.initdata import sign
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from tests.core.helpers import ALICE, BOB, CAROL
from tests.miniapp.conftest import MiniApp
from tests.miniapp.signing import TOKEN, auth, init_data


async def _enabled(mini: MiniApp, account_id: int) -> bool:
    return (await accounts.get_card(mini.deps, None, account_id)).summary.enabled


async def test_the_shell_is_static_and_locked_down(mini: MiniApp) -> None:
    page = await mini.client.get("/miniapp/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self' https://telegram.org" in page.headers["content-security-policy"]
    assert "100@" not in page.text  # no data before the person is known
    script = await mini.client.get("/miniapp/static/app.js")
    assert script.status_code == 200 and "tgWebAppData" in script.text
    assert (await mini.client.get("/miniapp/static/../config.py")).status_code == 404
    assert (await mini.client.get("/miniapp/static/nothing.js")).status_code == 404


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"Authorization": "Bearer abc"}, "missing"),
        ({"Authorization": "tma "}, "missing"),
        ({"Authorization": "tma x" * 5000}, "too long"),
        ({"Authorization": "tma user=%7B%7D&hash=00"}, "not signed by this bot"),
    ],
)
async def test_no_or_malformed_init_data_is_refused(
    mini: MiniApp, headers: dict[str, str], reason: str
) -> None:
    r = await mini.client.get("/miniapp/app", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "tma"
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "init_data_rejected" and reason in body["detail"]
    assert "open it again from the bot" in body["detail"]


async def test_forged_init_data_is_refused(mini: MiniApp) -> None:
    now = mini.deps.clock.now()
    other_bot = await mini.client.get(
        "/miniapp/app", headers=auth(ALICE, now, token="654321:another-bot")
    )
    assert other_bot.status_code == 401 and "not signed" in other_bot.json()["detail"]
    # Carol takes Alice's signed data and puts her own id in it
    fields = dict(parse_qsl(init_data(ALICE, now)))
    user = json.loads(fields["user"]) | {"id": CAROL.id}
    fields["user"] = json.dumps(user)
    forged = await mini.client.get(
        "/miniapp/app", headers={"Authorization": "tma " + urlencode(fields)}
    )
    assert forged.status_code == 401 and "not signed" in forged.json()["detail"]
    # or disables an account with it: nothing changes
    r = await mini.client.post(
        "/miniapp/bulk",
        json={"action": "disable", "ids": [mini.alice_own]},
        headers={"Authorization": "tma " + urlencode(fields)},
    )
    assert r.status_code == 401 and await _enabled(mini, mini.alice_own)


async def test_stale_and_future_init_data_is_refused(mini: MiniApp) -> None:
    now = mini.deps.clock.now()
    stale = await mini.client.get("/miniapp/app", headers=auth(ALICE, now, age=3601))
    assert stale.status_code == 401 and "too old" in stale.json()["detail"]
    assert (await mini.client.get("/miniapp/app", headers=auth(ALICE, now, age=3500))).is_success
    future = await mini.client.get("/miniapp/app", headers=auth(ALICE, now, age=-600))
    assert future.status_code == 401 and "future" in future.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"auth_date": "1"}, "too old"),
        ({"user": "{}"}, "undated"),
        ({"auth_date": "soon", "user": '{"id": 1001}'}, "undated"),
        ({"auth_date": "@NOW", "user": "not json"}, "without a user"),
        ({"auth_date": "@NOW", "user": '{"id": "1001"}'}, "without a user"),
        ({"auth_date": "@NOW"}, "without a user"),
    ],
)
async def test_signed_but_unusable_init_data_is_refused(
    mini: MiniApp, fields: dict[str, str], reason: str
) -> None:
    now = str(int(mini.deps.clock.now().timestamp()))
    fields = {k: now if v == "@NOW" else v for k, v in fields.items()}
    data = urlencode({**fields, "hash": sign(fields, TOKEN)})
    r = await mini.client.get("/miniapp/app", headers={"Authorization": f"tma {data}"})
    assert r.status_code == 401 and reason in r.json()["detail"]


async def test_a_repeated_field_is_refused(mini: MiniApp) -> None:
    data = init_data(ALICE, mini.deps.clock.now()) + "&auth_date=1"
    r = await mini.client.get("/miniapp/app", headers={"Authorization": f"tma {data}"})
    assert r.status_code == 401 and "repeated" in r.json()["detail"]


async def test_the_owner_sees_her_accounts_only(mini: MiniApp) -> None:
    r = await mini.client.get("/miniapp/app", headers=auth(ALICE, mini.deps.clock.now()))
    assert r.status_code == 200
    assert f'data-open="{mini.alice_own}"' in r.text and f'data-open="{mini.alice_bobs}"' in r.text
    assert f'data-open="{mini.carols}"' not in r.text and "other.example" not in r.text
    assert "@bob" in r.text  # the user of the assigned one
    assert "Accounts: 2" in r.text


async def test_search_sort_and_bad_query(mini: MiniApp) -> None:
    h = auth(ALICE, mini.deps.clock.now())
    found = await mini.client.get("/miniapp/table", params={"q": "BOB"}, headers=h)
    assert f'data-open="{mini.alice_bobs}"' in found.text
    assert f'data-open="{mini.alice_own}"' not in found.text
    ordered = await mini.client.get(
        "/miniapp/table", params={"sort": "id", "dir": "desc"}, headers=h
    )
    assert ordered.text.index(f"#{mini.alice_bobs}<") < ordered.text.index(f"#{mini.alice_own}<")
    for params in ({"sort": "password"}, {"dir": "up"}, {"page": "-1"}, {"q": "x" * 101}):
        bad = await mini.client.get("/miniapp/table", params=params, headers=h)
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"


async def test_the_assigned_user_sees_and_changes_nothing(mini: MiniApp) -> None:
    h = auth(BOB, mini.deps.clock.now())
    table = await mini.client.get("/miniapp/table", headers=h)
    assert table.status_code == 200 and f'data-open="{mini.alice_bobs}"' not in table.text
    form = await mini.client.get(f"/miniapp/accounts/{mini.alice_bobs}/settings", headers=h)
    assert form.status_code == 403 and form.json()["code"] == "assigned_user"
    post = await mini.client.post(
        f"/miniapp/accounts/{mini.alice_bobs}/settings", json={"port": "5070"}, headers=h
    )
    assert post.status_code == 403
    for action in ("disable", "links"):
        r = await mini.client.post(
            "/miniapp/bulk", json={"action": action, "ids": [mini.alice_bobs]}, headers=h
        )
        assert r.status_code == 403 and r.json()["code"] == "not_owner"
    export = await mini.client.post("/miniapp/export", json={"ids": [mini.alice_bobs]}, headers=h)
    assert export.status_code == 403
    card = await accounts.get_card(mini.deps, None, mini.alice_bobs)
    assert card.summary.enabled and card.settings is not None and card.settings["port"] is None
    assert not card.summary.via_link


async def test_a_stranger_gets_not_found_and_changes_nothing(mini: MiniApp) -> None:
    carol = TelegramUser(CAROL.id, "Carol", None, "ru")
    h = auth(carol, mini.deps.clock.now())
    form = await mini.client.get(f"/miniapp/accounts/{mini.alice_own}/settings", headers=h)
    assert form.status_code == 404 and form.json()["code"] == "account_not_found"
    assert "нет (возможно, он удалён)" in form.json()["detail"]  # Carol's language
    post = await mini.client.post(
        f"/miniapp/accounts/{mini.alice_own}/settings", json={"login": "999"}, headers=h
    )
    assert post.status_code == 404
    # her own account first, Alice's second: refused before the first change
    for action in ("disable", "links"):
        r = await mini.client.post(
            "/miniapp/bulk",
            json={"action": action, "ids": [mini.carols, mini.alice_own]},
            headers=h,
        )
        assert r.status_code == 404
    assert await _enabled(mini, mini.carols) and await _enabled(mini, mini.alice_own)
    export = await mini.client.post(
        "/miniapp/export", json={"ids": [mini.carols, mini.alice_own]}, headers=h
    )
    assert export.status_code == 404 and "100" not in export.text
    missing = await mini.client.get("/miniapp/accounts/999999/settings", headers=h)
    assert missing.status_code == 404
    card = await accounts.get_card(mini.deps, None, mini.alice_own)
    assert card.settings is not None and card.settings["login"] == "100"


async def test_bulk_disable_enable_and_bad_bodies(mini: MiniApp) -> None:
    h = auth(ALICE, mini.deps.clock.now())
    ids = [mini.alice_own, mini.alice_bobs]
    r = await mini.client.post("/miniapp/bulk", json={"action": "disable", "ids": ids}, headers=h)
    assert r.status_code == 200 and "Done: 2. Refused: 0." in r.text
    assert not await _enabled(mini, mini.alice_own) and not await _enabled(mini, mini.alice_bobs)
    r = await mini.client.post("/miniapp/bulk", json={"action": "enable", "ids": ids}, headers=h)
    assert "Done: 2." in r.text and await _enabled(mini, mini.alice_own)
    for body in (
        {"action": "delete", "ids": ids},
        {"action": "disable", "ids": []},
        {"action": "disable", "ids": ["x"]},
        {"action": "disable", "ids": list(range(1, 1002))},
    ):
        bad = await mini.client.post("/miniapp/bulk", json=body, headers=h)
        assert bad.status_code == 422
    assert await _enabled(mini, mini.alice_own)


async def test_bulk_links_move_accounts_out_of_the_table(mini: MiniApp) -> None:
    h = auth(ALICE, mini.deps.clock.now())
    r = await mini.client.post(
        "/miniapp/bulk", json={"action": "links", "ids": [mini.alice_own]}, headers=h
    )
    assert r.status_code == 200 and "https://t.me/telesip_test_bot?start=" in r.text
    table = await mini.client.get("/miniapp/table", headers=h)
    assert f'data-open="{mini.alice_own}"' not in table.text


async def test_export_csv(mini: MiniApp) -> None:
    await accounts.update_settings(mini.deps, ALICE, mini.alice_own, display_name="x")
    await accounts.report_registration(mini.deps, mini.alice_own, "failed", 403, "=HYPERLINK(1)")
    h = auth(ALICE, mini.deps.clock.now())
    r = await mini.client.post(
        "/miniapp/export", json={"ids": [mini.alice_own, mini.alice_bobs]}, headers=h
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["id", "login", "domain"]
    assert [row[1] for row in rows[1:]] == ["100", "101"]
    assert rows[2][6] == "@bob" or rows[2][6] == "'@bob"
    assert not any(cell.startswith(("=", "@")) for row in rows for cell in row)
    assert "403 =HYPERLINK(1)" in rows[1][8]  # it starts with 403: not a formula


async def test_settings_form_errors_next_to_fields_then_saved(mini: MiniApp) -> None:
    h = auth(ALICE, mini.deps.clock.now())
    url = f"/miniapp/accounts/{mini.alice_own}/settings"
    form = await mini.client.get(url, headers=h)
    assert form.status_code == 200 and 'name="login" value="100"' in form.text
    assert "s3cr3t" not in form.text  # the password is never shown
    etag = html.unescape(form.text.split('name="etag" value="')[1].split('"')[0])
    bad = await mini.client.post(
        url, json={"etag": etag, "port": "70000", "expires": "soon", "login": "100"}, headers=h
    )
    assert bad.status_code == 422
    assert 'id="f-port-err">Invalid SIP settings: port must be between 1 and 65535' in bad.text
    assert 'id="f-expires-err">soon is not a number.' in bad.text
    assert 'id="f-login-err"' not in bad.text
    good = await mini.client.post(
        url, json={"etag": etag, "port": "5070", "transport": "tcp", "record": False}, headers=h
    )
    assert good.status_code == 200 and "Settings saved." in good.text
    card = await accounts.get_card(mini.deps, None, mini.alice_own)
    assert card.settings is not None and card.settings["port"] == 5070
    assert card.settings["transport"] == "tcp"
    again = await mini.client.post(url, json={"etag": etag, "port": "5080"}, headers=h)
    assert again.status_code == 412  # read before the change above


async def test_settings_errors_in_russian(mini: MiniApp) -> None:
    alice_ru = TelegramUser(ALICE.id, "Alice", "alice", "ru")
    h = auth(alice_ru, mini.deps.clock.now())
    url = f"/miniapp/accounts/{mini.alice_own}/settings"
    bad = await mini.client.post(url, json={"port": "0", "expires": "x"}, headers=h)
    assert bad.status_code == 422
    assert "x — не число." in bad.text and "Порт" in bad.text
    password = await mini.client.post(url, json={"password": "new-Pa55"}, headers=h)
    assert password.status_code == 200 and "new-Pa55" not in password.text


async def test_a_refused_sign_in_in_the_browser_language(mini: MiniApp) -> None:
    r = await mini.client.get("/miniapp/app", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert r.status_code == 401 and "откройте снова из бота" in r.json()["detail"]


async def test_without_a_bot_token_the_page_says_why(services: Dependencies) -> None:
    app = create_app(services, Settings(), bot_username=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tg") as client:
        r = await client.get("/miniapp/app", headers=auth(ALICE, services.clock.now()))
    assert r.status_code == 503 and r.json()["code"] == "config_error"


async def test_a_refused_form_keeps_the_version_it_was_read_as(mini: MiniApp) -> None:
    h = auth(ALICE, mini.deps.clock.now())
    url = f"/miniapp/accounts/{mini.alice_own}/settings"

    def etag_of(text: str) -> str:
        return html.unescape(text.split('name="etag" value="')[1].split('"')[0])

    read = etag_of((await mini.client.get(url, headers=h)).text)
    await accounts.update_settings(mini.deps, ALICE, mini.alice_own, display_name="Reception")
    bad = await mini.client.post(url, json={"etag": read, "port": "x"}, headers=h)
    assert bad.status_code == 422 and etag_of(bad.text) == read
    retry = await mini.client.post(url, json={"etag": etag_of(bad.text), "port": "5062"}, headers=h)
    assert retry.status_code == 412 and "changed since it was read" in retry.text
    assert 'value="Reception"' in retry.text  # the other change, shown
    card = await accounts.get_card(mini.deps, None, mini.alice_own)
    assert card.settings is not None and card.settings["port"] is None
