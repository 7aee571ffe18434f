"""Fixtures for the worker tests: a Kamailio (from the SIP integration suite) and accounts
whose passwords that Kamailio accepts (``pw-<login>``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telesip.domain.settings import AccountSettings, Secret
from tests.sip_integration.conftest import Cert, Kamailio, run_kamailio, tls_cert  # noqa: F401


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory, tls_cert: Cert) -> Iterator[Kamailio]:  # noqa: F811
    with run_kamailio(tmp_path_factory.mktemp("kamailio"), tls_cert, max_expires=3600) as kam:
        yield kam


def sip_for(
    kam: Kamailio, login: str, *, expires: int = 60, good: bool = True, worker: str | None = None
) -> AccountSettings:
    return AccountSettings(
        login=login,
        password=Secret(f"pw-{login}" if good else "wrong"),
        domain="127.0.0.1",
        port=kam.port,
        expires=expires,
        worker=worker,
    )


def contact_port(address: str) -> int:
    """The port of a contact URI like sip:user@127.0.0.1:40123;transport=udp."""
    hostport = address.split("@", 1)[-1].split(";", 1)[0].rstrip(">")
    return int(hostport.rsplit(":", 1)[1])
