"""``POST /api/v1/accounts/import``: a multipart file or JSON rows, dry run, the result's counts
and per-line issues; bad input refused with problem details and nothing written (not a
format, a wrong encoding, 100,000 rows, a line too long, not multipart, missing seats)."""

from __future__ import annotations

import logging

import pytest

from telesip.domain.model import TelegramUser
from telesip.services import accounts, billing, people
from tests.api.conftest import ALICE, Api
from tests.importing.helpers import SERVER, sample

URL = "/api/v1/accounts/import"
CSV = b'login;password;server\n101;"pa;ss-one";pbx.example.com\n102;two-pw;pbx.example.com\n'
PROBLEM = "application/problem+json"


@pytest.fixture
async def alice(api: Api) -> TelegramUser:
    user = TelegramUser(ALICE, "Alice", "alice_adm", "en")
    await people.remember(api.deps, user)
    return user


async def owned(api: Api, user: TelegramUser) -> list[str]:
    return sorted(a.login for a in (await accounts.softphone(api.deps, user)).owned)


def upload(content: bytes, name: str = "accounts.csv") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, content, "text/csv")}


async def test_multipart_dry_run_then_import_then_again(
    api: Api, alice: TelegramUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    params = {"owner_id": ALICE, "dry_run": "true"}
    r = await api.client.post(URL, params=params, files=upload(CSV), headers=api.alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {"new": 2, "changed": 0, "identical": 0, "taken": 0, "errors": 0}
    assert body["applied"] is False and body["format"] == "csv"
    assert await owned(api, alice) == []
    r = await api.client.post(URL, params={"owner_id": ALICE}, files=upload(CSV), headers=api.alice)
    assert r.status_code == 200 and r.json()["applied"] is True
    assert len(r.json()["created"]) == 2
    assert await owned(api, alice) == ["101", "102"]
    r = await api.client.post(URL, params={"owner_id": ALICE}, files=upload(CSV), headers=api.alice)
    assert r.json()["counts"]["identical"] == 2 and r.json()["created"] == []
    assert "pa;ss-one" not in r.text and "two-pw" not in r.text
    assert "pa;ss-one" not in caplog.text and "two-pw" not in caplog.text


def _multipart(content: bytes, boundary: str) -> tuple[bytes, str]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def test_a_retried_upload_with_its_key_is_answered_once(
    api: Api, alice: TelegramUser
) -> None:
    """The same file sent again with the same Idempotency-Key, as curl -F or httpx send it
    (a new random boundary each time), gets the first answer and imports nothing twice;
    another file with that key is 422."""
    params = {"owner_id": ALICE}
    answers = []
    for boundary in ("first-boundary-1f2e", "second-boundary-9a8b"):
        body, content_type = _multipart(CSV, boundary)
        headers = api.alice | {"Content-Type": content_type, "Idempotency-Key": "import-7"}
        answers.append(await api.client.post(URL, params=params, content=body, headers=headers))
    first, retry = answers
    assert first.status_code == 200 and len(first.json()["created"]) == 2, first.text
    assert retry.headers.get("idempotent-replayed") == "true"
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert await owned(api, alice) == ["101", "102"]
    other, content_type = _multipart(CSV + b"103;three-pw;pbx.example.com\n", "third-boundary")
    headers = api.alice | {"Content-Type": content_type, "Idempotency-Key": "import-7"}
    r = await api.client.post(URL, params=params, content=other, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert await owned(api, alice) == ["101", "102"]


async def test_a_pbx_file_with_its_server(api: Api, alice: TelegramUser) -> None:
    files = upload(sample("pjsip.conf"), "pjsip.conf")
    r = await api.client.post(
        URL, params={"owner_id": ALICE, "server": SERVER}, files=files, headers=api.admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "pjsip.conf" and r.json()["counts"]["new"] >= 3
    assert r.json()["notes"]  # the trunk skipped


async def test_json_rows_with_per_line_issues(api: Api, alice: TelegramUser) -> None:
    rows = [
        {"login": "201", "password": 'p,w"1', "server": "pbx.example.com"},
        {"login": "202", "password": "pw2", "server": "pbx.example.com", "port": "99999"},
    ]
    r = await api.client.post(
        URL, params={"owner_id": ALICE}, json={"rows": rows}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"]["new"] == 1 and body["counts"]["errors"] == 1
    assert body["issues"][0]["code"] == "import.bad_port" and body["issues"][0]["line"] == 3
    assert await owned(api, alice) == ["201"]
    r = await api.client.post(
        URL, params={"owner_id": ALICE}, json={"rows": [{"login": 1}]}, headers=api.alice
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"PK\x03\x04" + b"\x00" * 100, "import.not_text"),
        (b"hello;world\nthis is not;an import\n", "import.unknown_format"),
        (b"login;password;server\n" + b"x" * 10_000 + b"\n", "import.line_too_long"),
        ("login;password;server\n1;пароль;h\n".encode("utf-16-le"), "import.bad_encoding"),
        (
            b"login;password;server\n"
            + b"".join(b"%d;pw%d;pbx.example.com\n" % (n, n) for n in range(100_000)),
            "import.too_many_rows",
        ),
    ],
)
async def test_bad_files_are_problems_and_change_nothing(
    api: Api, alice: TelegramUser, content: bytes, code: str
) -> None:
    headers = api.alice | {"Accept-Language": "ru"}
    r = await api.client.post(
        URL, params={"owner_id": ALICE}, files=upload(content), headers=headers
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == code
    assert r.headers["content-language"] == "ru" and r.json()["detail"]
    assert await owned(api, alice) == []


async def test_not_multipart_unknown_owner_scope_and_seats(api: Api, alice: TelegramUser) -> None:
    r = await api.client.post(
        URL,
        params={"owner_id": ALICE},
        content=CSV,
        headers=api.alice | {"Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    r = await api.client.post(URL, params={"owner_id": 4040}, files=upload(CSV), headers=api.admin)
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"
    r = await api.client.post(URL, params={"owner_id": ALICE}, files=upload(CSV), headers=api.carol)
    assert r.status_code == 403
    await billing.set_subscription(api.deps, alice, "office", 1)
    r = await api.client.post(URL, params={"owner_id": ALICE}, files=upload(CSV), headers=api.alice)
    assert r.status_code == 402 and r.json()["code"] == "seats_missing"
    assert await owned(api, alice) == []
