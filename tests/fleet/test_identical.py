"""R11 against a PBX that keeps one contact per extension (Kamailio with ``max_contacts`` 1
and ``save`` replacing the existing contact, as Asterisk's ``max_contacts=1`` with
``remove_existing``): two copies of a line never both register, so the binding does not flap.

Two enabled copies are forced into the database (as a race between two creations could leave
them, or rows from before the rule); the workers register only the older one: the location
table holds one contact, of one registration (one Call-ID, one contact record), throughout
a few re-registrations.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

import tests.sip_integration.conftest as sip_conftest
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from tests.sip_integration.conftest import Cert, run_kamailio

from ..core.helpers import ALICE, BOB, two_enabled_copies
from .conftest import JSONRPC, Kamailio, sip_for
from .test_worker import eventually, running


@pytest.fixture(scope="module")
def one_contact_kamailio(
    tmp_path_factory: pytest.TempPathFactory, tls_cert: Cert
) -> Iterator[Kamailio]:
    tmp = tmp_path_factory.mktemp("kamailio1")
    original = sip_conftest.KAMAILIO_CFG
    one_contact = 'modparam("registrar", "max_contacts", 1)\n'
    cfg = original.replace(
        'loadmodule "tls.so"\n',
        'loadmodule "tls.so"\n' + JSONRPC.format(dir=tmp).replace("{", "{{").replace("}", "}}"),
    ).replace(
        'modparam("auth", "qop", "auth")\n', one_contact + 'modparam("auth", "qop", "auth")\n'
    )
    # 0x04: a new contact replaces the existing ones (Asterisk's remove_existing)
    cfg = cfg.replace('save("location")', 'save("location", "0x04")')
    assert cfg.count("max_contacts") == 1 and cfg.count('"0x04"') == 1
    sip_conftest.KAMAILIO_CFG = cfg
    try:
        with run_kamailio(tmp, tls_cert) as kam:
            yield Kamailio(kam, tmp)
    finally:
        sip_conftest.KAMAILIO_CFG = original


def _registrations(kam: Kamailio, user: str) -> list[str]:
    """The user's live contacts as "Call-ID Ruid": a refresh keeps both; a REGISTER of
    another copy replaces the contact (a new record, a new Ruid), which shows even when the
    copies refresh in step and the same copy always lands last."""
    return [f"{c['Call-ID']} {c['Ruid']}" for c in kam.bindings().get(user, [])]


async def test_two_copies_of_a_line_register_once_without_flapping(
    services: Dependencies, one_contact_kamailio: Kamailio
) -> None:
    s, kam = services, one_contact_kamailio
    first = await accounts.create_account(s, ALICE, sip_for(kam, "dup1", expires=10))
    copy = await accounts.create_account(s, BOB, sip_for(kam, "dup1", expires=10))
    assert not (await accounts.get_card(s, BOB, copy)).summary.enabled  # the rule
    # the backstop: both enabled anyway (rows from before the database held the rule)
    async with two_enabled_copies(s, copy), running(s, "w-a"), running(s, "w-b"):
        await eventually(lambda: _registrations(kam, "dup1"), what="the line registered")
        samples: list[list[str]] = []
        deadline = time.monotonic() + 12  # each copy would refresh (at 8 s of 10) in here
        while time.monotonic() < deadline:
            samples.append(await asyncio.to_thread(_registrations, kam, "dup1"))
            await asyncio.sleep(0.1)
        async with s.uow(readonly=True) as uow:
            held = {
                a for a in (first, copy) if not await uow.leases.unheld([a], uow.lease_time(ago=30))
            }
    assert len(samples) > 20
    assert all(len(one) == 1 for one in samples), samples
    assert len({one[0] for one in samples}) == 1, f"the binding flapped: {set(map(tuple, samples))}"
    assert held == {first}
