"""POST /api/v1/accounts/bulk/*: links (JSON, CSV, PDF), disable / enable / delete with the
confirmed count, assign (rows or a CSV text); problem+json for every refusal, nothing changed;
the key's scope; Idempotency-Key replays one answer (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io

from telesip.domain.model import TelegramUser
from telesip.services import accounts as accounts_svc
from telesip.services import operators, people
from telesip.services.operators import Scope

from .conftest import ALICE, BOB, CAROL, Api, settings_body

V1 = "/api/v1"
BULK = f"{V1}/accounts/bulk"


async def _create(api: Api, owner: int, login: str) -> int:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": owner, "first_name": "A"}, "settings": settings_body(login)},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _enabled(api: Api, ids: list[int]) -> list[bool]:
    return [(await accounts_svc.get_card(api.deps, None, i)).summary.enabled for i in ids]


def _problem(r: object, status: int, code: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert r.json()["code"] == code  # type: ignore[attr-defined]


async def test_disable_enable_delete_with_the_confirmed_count(api: Api) -> None:
    ids = [await _create(api, ALICE, f"30{i}") for i in range(3)]
    body = {"owner_id": ALICE, "group": "enabled", "expected_count": 2}
    r = await api.client.post(f"{BULK}/disable", json=body, headers=api.alice)
    _problem(r, 409, "selection_changed")
    assert await _enabled(api, ids) == [True] * 3
    body["expected_count"] = 3
    headers = {**api.alice, "Idempotency-Key": "k-disable-1"}
    r = await api.client.post(f"{BULK}/disable", json=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"changed": ids, "unchanged": []}
    again = await api.client.post(f"{BULK}/disable", json=body, headers=headers)
    assert again.json() == r.json() and again.headers["idempotent-replayed"] == "true"
    r = await api.client.post(
        f"{BULK}/enable", json={"owner_id": ALICE, "account_ids": ids[:2]}, headers=api.alice
    )
    assert r.json() == {"changed": ids[:2], "unchanged": []}
    r = await api.client.post(
        f"{BULK}/delete", json={"owner_id": ALICE, "account_ids": [ids[2]]}, headers=api.alice
    )
    assert r.json() == {"changed": [ids[2]], "unchanged": []}
    r = await api.client.get(f"{V1}/accounts/{ids[2]}", headers=api.admin)
    assert r.status_code == 404


async def test_refusals_change_nothing(api: Api) -> None:
    mine = [await _create(api, ALICE, f"31{i}") for i in range(2)]
    carols = await _create(api, CAROL, "319")
    for body, status, code in (
        ({"owner_id": ALICE, "account_ids": [*mine, carols]}, 404, "account_not_found"),
        ({"owner_id": ALICE, "account_ids": [*mine, 999999]}, 404, "account_not_found"),
        ({"owner_id": CAROL, "account_ids": [carols]}, 403, "out_of_scope"),
        ({"owner_id": CAROL, "group": "enabled"}, 403, "out_of_scope"),
        ({"owner_id": ALICE}, 422, "invalid_request"),
        ({"owner_id": ALICE, "account_ids": mine, "group": "enabled"}, 422, "invalid_request"),
        ({"owner_id": ALICE, "account_ids": []}, 422, "invalid_request"),
        ({"owner_id": ALICE, "account_ids": list(range(1, 5003))}, 422, "invalid_request"),
    ):
        for action in ("disable", "delete", "links"):
            r = await api.client.post(f"{BULK}/{action}", json=body, headers=api.alice)
            _problem(r, status, code)
    assert await _enabled(api, [*mine, carols]) == [True, True, True]


async def test_links_as_json_csv_and_a_printable_sheet(api: Api) -> None:
    ids = [await _create(api, ALICE, f"32{i}") for i in range(3)]
    body = {"owner_id": ALICE, "group": "unassigned"}
    r = await api.client.post(f"{BULK}/links", json=body, headers=api.alice)
    assert r.status_code == 201, r.text
    links = r.json()["links"]
    assert [x["account_id"] for x in links] == ids
    assert all(x["url"].startswith("https://t.me/telesip_test_bot?start=") for x in links)
    listed = await api.client.get(r.headers["location"], headers=api.alice)  # the collection
    assert {x["account_id"] for x in listed.json()} >= set(ids)
    r = await api.client.post(
        f"{BULK}/links", json=body, params={"format": "csv"}, headers=api.alice
    )
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [int(x["id"]) for x in rows] == ids and rows[0]["link"] != links[0]["url"]
    r = await api.client.post(
        f"{BULK}/links",
        json={"owner_id": ALICE, "account_ids": ids[:1]},
        params={"format": "pdf", "lang": "ru"},
        headers=api.alice,
    )
    assert r.status_code == 201 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and r.headers["location"].endswith(f"={ALICE}")


async def test_assign_rows_or_a_csv(api: Api) -> None:
    ids = [await _create(api, ALICE, f"33{i}") for i in range(2)]
    await people.remember(api.deps, TelegramUser(BOB, "Bob", "bobby"))
    r = await api.client.post(
        f"{BULK}/assign",
        json={"owner_id": ALICE, "rows": [{"account_id": ids[0], "user": "@nobody_yet"}]},
        headers=api.alice,
    )
    _problem(r, 409, "bad_assignments")  # the state of things: they may start it later
    assert "has not started the bot" in r.json()["detail"]
    r = await api.client.post(
        f"{BULK}/assign",
        json={"owner_id": ALICE, "csv": f"account,user\n#{ids[0]},@Bobby\n#{ids[1]},{BOB}\n"},
        headers={**api.alice, "Accept-Language": "ru"},
    )
    assert r.status_code == 200 and r.json() == {"changed": ids, "unchanged": []}, r.text
    r = await api.client.post(
        f"{BULK}/assign",
        json={"owner_id": ALICE, "csv": "account,user\n#1,@bobby\n\u0000\n"},
        headers={**api.alice, "Accept-Language": "ru"},
    )
    _problem(r, 422, "bad_assignments")
    assert "Ничего не назначено" in r.json()["detail"]


async def test_a_key_scoped_to_some_accounts_may_name_only_those(api: Api) -> None:
    mine = [await _create(api, ALICE, f"34{i}") for i in range(2)]
    key = await operators.create_api_key(
        api.deps, "desk", Scope(accounts=frozenset({mine[0]})), "one account"
    )
    headers = {"Authorization": f"Bearer {key.token}"}
    r = await api.client.post(
        f"{BULK}/disable", json={"owner_id": ALICE, "account_ids": [mine[0]]}, headers=headers
    )
    assert r.status_code == 200 and r.json()["changed"] == [mine[0]]
    for body in (
        {"owner_id": ALICE, "account_ids": mine},  # one it does not reach
        {"owner_id": ALICE, "group": "disabled"},  # a group: the owner's, not the key's
    ):
        r = await api.client.post(f"{BULK}/enable", json=body, headers=headers)
        _problem(r, 403, "out_of_scope")
    assert await _enabled(api, mine) == [False, True]
