"""Errors as RFC 9457 problem details, and the HTTP semantics an integrator relies on:
Location on 201, Allow, 409 for state conflicts, strict JSON types, 401 before the body is
looked at, 403 out of scope, ETag/If-Match on account settings."""

from __future__ import annotations

import asyncio
import re

from .conftest import ALICE, BOB, CAROL, Api, settings_body

V1 = "/api/v1"
PROBLEM = "application/problem+json"


async def _create(api: Api, owner: int = ALICE, login: str = "100") -> tuple[int, str]:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": owner}, "settings": settings_body(login)},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), r.headers["location"]


async def test_an_error_is_problem_details_in_the_asked_language(api: Api) -> None:
    r = await api.client.get(f"{V1}/accounts/4242", headers=api.admin)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body == {
        "type": "/api/v1/problems/account_not_found",
        "title": "Account not found",
        "status": 404,
        "detail": "SIP account #4242 does not exist (it may have been deleted).",
        "instance": "/api/v1/accounts/4242",
        "code": "account_not_found",
    }
    ru = api.admin | {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
    r = await api.client.get(f"{V1}/accounts/4242", headers=ru)
    assert r.json()["detail"] == "SIP-аккаунта #4242 нет (возможно, он удалён)."
    assert r.json()["title"] == "Account not found"  # fixed per type
    assert r.headers["content-language"] == "ru"
    en_first = api.admin | {"Accept-Language": "de, en;q=0.8, ru;q=0.5"}
    r = await api.client.get(f"{V1}/accounts/4242", headers=en_first)
    assert r.json()["detail"].startswith("SIP account #4242")
    page = await api.client.get(body["type"])
    assert page.status_code == 200 and "account_not_found" in page.text and "404" in page.text


async def test_every_invalid_field_is_listed_with_a_json_pointer(api: Api) -> None:
    body = {
        "owner": {"id": "x"},
        "settings": {"login": "", "password": "p", "port": 0, "rewrite_rules": [["a"]]},
        "extra": 1,
    }
    r = await api.client.post(f"{V1}/accounts", json=body, headers=api.admin)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {
        "#/owner/id",
        "#/settings/login",
        "#/settings/port",
        "#/settings/rewrite_rules/0",
        "#/extra",
    } <= pointers
    assert problem["code"] == "invalid_request" and str(len(problem["errors"])) in problem["detail"]
    r = await api.client.get(f"{V1}/accounts?limit=0&after_id=-1", headers=api.admin)
    assert {e["parameter"] for e in r.json()["errors"]} == {"limit", "after_id"}
    ru = api.admin | {"Accept-Language": "ru"}
    r = await api.client.get(f"{V1}/accounts?limit=0", headers=ru)
    assert r.json()["detail"] == "В запросе ошибок: 1; см. errors."


async def test_created_resources_have_a_location_that_reads_them(api: Api) -> None:
    account_id, location = await _create(api)
    assert location == f"{V1}/accounts/{account_id}"
    assert (await api.client.get(location, headers=api.admin)).json()["id"] == account_id
    made = [
        await api.client.post(f"{V1}/accounts/{account_id}/links", headers=api.admin),
        await api.client.post(
            f"{V1}/templates", json={"name": "Office PBX", "domain": "pbx.x"}, headers=api.admin
        ),
        await api.client.post(
            f"{V1}/webhooks", json={"url": "https://hooks.example/x"}, headers=api.admin
        ),
    ]
    for r in made:
        assert r.status_code == 201, r.text
        read = await api.client.get(r.headers["location"], headers=api.admin)
        assert read.status_code == 200 and read.json()["id"] == r.json()["id"]


async def test_allow_lists_every_method_of_a_path(api: Api) -> None:
    r = await api.client.request("OPTIONS", f"{V1}/accounts", headers=api.admin)
    assert r.status_code == 204
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    r = await api.client.put(f"{V1}/accounts", headers=api.admin)
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    r = await api.client.post(f"{V1}/links/1", headers=api.admin)
    assert set(r.headers["allow"].split(", ")) == {"GET", "DELETE"}


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


async def test_every_201_of_the_document_says_location(api: Api) -> None:
    document = (await api.client.get(f"{V1}/openapi.json")).json()
    created = [
        (method, path, op["responses"]["201"])
        for path, item in document["paths"].items()
        for method, op in item.items()
        if "201" in op["responses"]
    ]
    assert len(created) >= 7
    for method, path, response in created:
        assert "Location" in response.get("headers", {}), (method, path)


async def test_every_undocumented_method_of_every_path_is_405_with_its_allow(api: Api) -> None:
    """Over the whole document, so a fixed address beside an id (``/accounts/import`` beside
    ``/accounts/{account_id}``) is its own: GET there was getAccount with the id "import"."""
    document = (await api.client.get(f"{V1}/openapi.json")).json()
    for template, item in document["paths"].items():
        path = re.sub(r"\{\w+\}", "1", template)
        documented = {m.upper() for m in item}
        for method in METHODS:
            if method in documented:
                continue
            r = await api.client.request(method, path, headers=api.admin)
            assert r.status_code == 405, (method, path, r.status_code, r.text)
            assert set(r.headers["allow"].split(", ")) == documented, (method, path)
            assert r.headers["content-type"] == PROBLEM
        r = await api.client.request("OPTIONS", path, headers=api.admin)
        assert set(r.headers["allow"].split(", ")) == documented | {"OPTIONS"}, path


async def test_an_id_that_is_no_number_is_no_address(api: Api) -> None:
    for path in ("accounts/abc", "accounts/import/audit", "links/x", "users/me/subscription"):
        r = await api.client.get(f"{V1}/{path}", headers=api.admin)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    r = await api.client.get(f"{V1}/accounts/{2**70}", headers=api.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["parameter"] == "account_id"


async def test_booleans_and_integers_are_strict_json(api: Api) -> None:
    account_id, _ = await _create(api)
    for value in (0, 1, "false", None):
        r = await api.client.put(
            f"{V1}/accounts/{account_id}/enabled", json={"enabled": value}, headers=api.admin
        )
        assert r.status_code == 422, value
    r = await api.client.patch(
        f"{V1}/accounts/{account_id}/settings", json={"port": "5070"}, headers=api.admin
    )
    assert r.status_code == 422
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.admin)
    assert r.json()["enabled"] is True and r.json()["settings"]["port"] is None


async def test_a_patch_cannot_clear_what_an_account_always_has(api: Api) -> None:
    """``null`` clears an optional field; for the others the schema takes no null and the
    server says which field, by its pointer (a create may still send null: the default)."""
    account_id, _ = await _create(api)
    url = f"{V1}/accounts/{account_id}/settings"
    r = await api.client.patch(url, json={"codecs": None, "domain": None}, headers=api.admin)
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert sorted(e["pointer"] for e in r.json()["errors"]) == ["#/codecs", "#/domain"]
    document = (await api.client.get(f"{V1}/openapi.json")).json()
    patch = document["components"]["schemas"]["SettingsPatch"]["properties"]
    assert patch["codecs"]["type"] == "array" and "anyOf" not in patch["codecs"]
    assert {"type": "null"} in patch["port"]["anyOf"]
    r = await api.client.patch(url, json={"port": 5070}, headers=api.admin)
    assert r.status_code == 200
    r = await api.client.patch(url, json={"port": None}, headers=api.admin)
    assert r.status_code == 200 and r.json()["settings"]["port"] is None
    assert r.json()["domain"] == "pbx.example.com"
    body = {"owner": {"id": ALICE}, "settings": settings_body("101", codecs=None)}
    r = await api.client.post(f"{V1}/accounts", json=body, headers=api.admin)
    assert r.status_code == 201 and r.json()["settings"]["codecs"]


async def test_an_empty_patch_is_refused_and_the_document_says_so(api: Api) -> None:
    """A settings patch must change something: the server answers 422 to ``{}``, and the
    document's SettingsPatch says ``minProperties: 1`` (its own ``json_schema_extra`` once
    replaced the shared one, and schemathesis sent ``{}`` as valid data)."""
    account_id, _ = await _create(api)
    url = f"{V1}/accounts/{account_id}/settings"
    r = await api.client.patch(url, json={}, headers=api.admin)
    assert r.status_code == 422, r.text
    document = (await api.client.get(f"{V1}/openapi.json")).json()
    assert document["components"]["schemas"]["SettingsPatch"]["minProperties"] == 1


async def test_401_comes_before_the_body_is_looked_at(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer tsk_nope"}):
        r = await api.client.post(f"{V1}/accounts", json={}, headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "invalid_api_key", r.text
        r = await api.client.post(
            f"{V1}/accounts",
            content=b"{bad",
            headers=headers | {"content-type": "application/json"},
        )
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    r = await api.client.post(f"{V1}/worker/join", json={})
    assert r.status_code == 401 and r.json()["code"] == "missing_credential"


async def test_401_comes_before_404_and_405(api: Api) -> None:
    """Without a valid key, an address that matches no route (or not with this method) is
    401 like every other: the answers do not tell which addresses exist."""
    wrong = [
        ("GET", f"{V1}/accounts/abc"),
        ("GET", f"{V1}/accounts/1/nothing"),
        ("GET", f"{V1}/nothing"),
        ("DELETE", f"{V1}/accounts"),
        ("OPTIONS", f"{V1}/accounts"),
        ("PUT", f"{V1}/openapi.json/x"),
    ]
    for method, url in wrong:
        for headers in ({}, {"Authorization": "Bearer tsk_nope"}, {"Authorization": "Basic x"}):
            r = await api.client.request(method, url, headers=headers)
            assert r.status_code == 401 and r.json()["code"] == "invalid_api_key", (url, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
    statuses = [(await api.client.request(m, u, headers=api.admin)).status_code for m, u in wrong]
    assert statuses == [404, 404, 404, 405, 204, 404]
    for method, url in (("POST", f"{V1}/worker/nothing"), ("GET", f"{V1}/worker/join")):
        r = await api.client.request(method, url)
        assert r.status_code == 401 and r.json()["code"] == "missing_credential", url
        with_credential = {"Authorization": "Bearer tsw_any"}
        assert (await api.client.request(method, url, headers=with_credential)).status_code in (
            404,
            405,
        )
    assert (await api.client.get(f"{V1}/openapi.json")).status_code == 200  # public
    assert (await api.client.get("/nothing")).status_code == 404  # no API's prefix


async def test_listing_another_users_accounts_is_403(api: Api) -> None:
    await _create(api, CAROL)
    r = await api.client.get(f"{V1}/accounts?owner_id={CAROL}", headers=api.alice)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    r = await api.client.get(f"{V1}/links?owner_id={CAROL}", headers=api.alice)
    assert r.status_code == 403
    r = await api.client.get(f"{V1}/accounts?owner_id={BOB}", headers=api.alice)
    assert r.status_code == 200 and r.json()["accounts"] == []


async def test_state_conflicts_are_409(api: Api) -> None:
    account_id, _ = await _create(api)
    r = await api.client.post(f"{V1}/accounts/{account_id}/take-back", headers=api.admin)
    assert r.status_code == 409 and r.json()["code"] == "not_assigned"


async def test_if_match_refuses_a_stale_settings_write(api: Api) -> None:
    _account_id, location = await _create(api)
    read = await api.client.get(location, headers=api.admin)
    etag = read.headers["etag"]
    url = f"{location}/settings"
    first = await api.client.patch(url, json={"port": 5070}, headers=api.admin | {"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    stale = await api.client.patch(url, json={"port": 5080}, headers=api.alice | {"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert (await api.client.get(location, headers=api.admin)).json()["settings"]["port"] == 5070
    # a password change is a change too, though the password is never shown
    etag = first.headers["etag"]
    r = await api.client.patch(url, json={"password": "other-pass"}, headers=api.admin)
    assert r.headers["etag"] != etag
    r = await api.client.patch(url, json={"port": 5090}, headers=api.admin | {"If-Match": "*"})
    assert r.status_code == 200


async def test_two_editors_with_one_etag_one_wins(api: Api) -> None:
    """Both read the same version and write at once: exactly one write lands."""
    _account_id, location = await _create(api)
    etag = (await api.client.get(location, headers=api.admin)).headers["etag"]

    async def edit(port: int) -> int:
        r = await api.client.patch(
            f"{location}/settings", json={"port": port}, headers=api.admin | {"If-Match": etag}
        )
        return r.status_code

    statuses = await asyncio.gather(*(edit(6000 + n) for n in range(6)))
    assert sorted(statuses)[0] == 200 and statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 412, 409}


async def test_a_rewrite_rule_re2_cannot_run_is_refused(api: Api) -> None:
    _account_id, location = await _create(api)
    r = await api.client.patch(
        f"{location}/settings",
        json={"rewrite_rules": [[r"(\d)\1", "x"]]},
        headers=api.admin | {"Accept-Language": "en"},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_settings"
    assert "backreferences" in r.json()["detail"]
    r = await api.client.patch(
        f"{location}/settings", json={"rewrite_rules": [["(a+)+$", "1"]]}, headers=api.admin
    )
    assert r.status_code == 200 and r.json()["settings"]["rewrite_rules"] == [["(a+)+$", "1"]]
