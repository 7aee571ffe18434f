"""Registrations checked in Kamailio's own location table (`kamcmd ul.dump`)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from telesip.workers import AccountConfig

from .conftest import Harness, Kamailio, eventually

pytestmark = pytest.mark.kamailio
_ids = itertools.count(1000)


def account(kam: Kamailio, user: str, transport: str = "udp", **kw: object) -> AccountConfig:
    port = kam.tls_port if transport == "tls" else kam.port
    fields: dict[str, object] = {
        "account_id": next(_ids),
        "login": user,
        "password": f"pw-{user}",
        "domain": "127.0.0.1",
        "port": port,
        "transport": transport,
        "expires": 300,
    }
    fields.update(kw)
    return AccountConfig(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_register_lands_in_the_location_table(
    kamailio: Kamailio, harness: Harness, transport: str
) -> None:
    user = f"reg-{transport}"
    cfg = account(kamailio, user, transport)
    harness.manager.apply(cfg)
    await harness.wait_state(cfg.account_id, "registered")
    (contact,) = kamailio.contacts(user)
    local_port = harness.manager.udp_local[1] if harness.manager.udp_local else 0
    assert contact.startswith(f"sip:{user}@127.0.0.1:")
    if transport == "udp":
        assert contact == f"sip:{user}@127.0.0.1:{local_port}"
    else:
        assert contact.endswith(f";transport={transport}")
    st = harness.manager.status(cfg.account_id)
    assert st.code == 200 and harness.manager.registered_until(cfg.account_id) is not None
    assert harness.states(cfg.account_id) == ["registering", "registered"]


async def test_refresh_keeps_the_binding(kamailio: Kamailio, harness: Harness) -> None:
    user = "refresh"
    cfg = account(kamailio, user, expires=3)
    harness.manager.apply(cfg)
    await harness.wait_state(cfg.account_id, "registered")
    first = kamailio.bindings()[user][0]
    # 3 s granted, refreshed at 2.4 s: after 5.5 s two refreshes have happened
    await asyncio.sleep(0)
    await eventually(
        lambda: (
            int(kamailio.bindings().get(user, [{"CSeq": "0"}])[0]["CSeq"]) >= int(first["CSeq"]) + 2
        ),
        within=8.0,
        what="two refreshes",
    )
    assert kamailio.contacts(user) == [first["Address"]]
    assert harness.manager.status(cfg.account_id).state == "registered"
    assert harness.manager.stats.dropped == 0


async def test_wrong_password_is_auth_failed_and_not_retried(
    kamailio: Kamailio, harness: Harness
) -> None:
    cfg = account(kamailio, "wrongpw", password="not-it")
    harness.manager.apply(cfg)
    await harness.wait_state(cfg.account_id, "auth_failed")
    st = harness.manager.status(cfg.account_id)
    assert st.code == 401 and st.error == "401 Unauthorized"
    assert st.next_retry_at is not None
    assert "not-it" not in repr(st) and "not-it" not in repr(cfg)
    sent = harness.manager.stats.sent
    await asyncio.sleep(1.5)  # nothing may go out meanwhile: no hammering
    assert harness.manager.stats.sent == sent
    assert "wrongpw" not in kamailio.bindings()


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_remove_unregisters(kamailio: Kamailio, harness: Harness, transport: str) -> None:
    user = f"gone-{transport}"
    cfg = account(kamailio, user, transport)
    harness.manager.apply(cfg)
    await harness.wait_state(cfg.account_id, "registered")
    assert kamailio.contacts(user)
    harness.manager.remove(cfg.account_id)
    await eventually(lambda: user not in kamailio.bindings(), what="binding removed")
    await eventually(lambda: harness.states(cfg.account_id)[-1:] == ["disabled"])


async def test_password_change_re_registers(kamailio: Kamailio, harness: Harness) -> None:
    user = "pwchange"
    bad = account(kamailio, user, password="old-wrong")
    harness.manager.apply(bad)
    await harness.wait_state(bad.account_id, "auth_failed")
    good = AccountConfig(**{**_fields(bad), "password": f"pw-{user}"})
    harness.manager.apply(good)
    await harness.wait_state(bad.account_id, "registered")
    assert len(kamailio.contacts(user)) == 1
    cseq = int(kamailio.bindings()[user][0]["CSeq"])
    # a second change (say the expiry) on a registered account re-registers at once
    harness.manager.apply(AccountConfig(**{**_fields(good), "expires": 200}))
    await eventually(lambda: int(kamailio.bindings()[user][0]["CSeq"]) > cseq)
    assert len(kamailio.contacts(user)) == 1


async def test_server_change_moves_the_binding(kamailio: Kamailio, harness: Harness) -> None:
    user = "mover"
    cfg = account(kamailio, user, "udp")
    harness.manager.apply(cfg)
    await harness.wait_state(cfg.account_id, "registered")
    udp_contact = kamailio.contacts(user)
    moved = AccountConfig(**{**_fields(cfg), "transport": "tcp"})
    harness.manager.apply(moved)
    await eventually(
        lambda: [c.endswith(";transport=tcp") for c in kamailio.contacts(user)] == [True],
        what="only the TCP contact left",
    )
    assert udp_contact[0] not in kamailio.contacts(user)
    await harness.wait_state(cfg.account_id, "registered")


async def test_stop_unregisters_everything(kamailio: Kamailio, harness: Harness) -> None:
    users = [f"stop{i}" for i in range(5)]
    for i, user in enumerate(users):
        harness.manager.apply(account(kamailio, user, ["udp", "tcp", "tls"][i % 3]))
    await eventually(lambda: all(u in kamailio.bindings() for u in users), what="all registered")
    await harness.manager.stop(grace=3.0)
    assert not any(u in kamailio.bindings() for u in users)


def _fields(cfg: AccountConfig) -> dict[str, object]:
    return {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
