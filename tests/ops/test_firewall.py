# Firewall rules are long lines by nature: the expected ones are written out whole.
# ruff: noqa: E501
"""The firewall list a PBX administrator pastes: IP addresses only (the one the registrar saw
first, else TELESIP_SIP_ADVERTISE, else the routing interface), each with the SIP port per
transport and the RTP range, as text and as iptables, nftables and Asterisk rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telesip.bootstrap import services_for
from telesip.cli import app
from telesip.config import Settings
from telesip.domain.firewall import describe, hosts, publish, render
from telesip.services import accounts, fleet
from telesip.workers.addresses import fallback_ips
from tests.sip_integration.conftest import Cert, Kamailio, run_kamailio, tls_cert  # noqa: F401

from .procs import SECRET_KEY, Telesip, until
from .test_processes import OWNER, sip

ENTRIES = [
    *publish(["203.0.113.5", "2001:db8::5"], udp_port=5062, rtp="20000-20999"),
    "udp:pbx.example.com:5060",  # a host name: never listed
    "tcp:1.2.3.4;reboot",  # junk from a remote worker: never reaches a rule
    "rtp:198.51.100.1:30000-20000",
]


def test_publish_keeps_ip_addresses_only_ipv4_first() -> None:
    assert publish(["2001:db8::5", "vm", "203.0.113.5", "203.0.113.5"], udp_port=5060, rtp="1-2") == [
        "udp:203.0.113.5:5060", "tcp:203.0.113.5", "tls:203.0.113.5", "rtp:203.0.113.5:1-2",
        "udp:[2001:db8::5]:5060", "tcp:[2001:db8::5]", "tls:[2001:db8::5]", "rtp:[2001:db8::5]:1-2",
    ]  # fmt: skip
    assert [str(h.ip) for h in hosts(ENTRIES)] == ["203.0.113.5", "2001:db8::5"]
    assert describe(ENTRIES) == [
        "203.0.113.5: SIP udp 5062, tcp, tls; RTP udp 20000-20999",
        "2001:db8::5: SIP udp 5062, tcp, tls; RTP udp 20000-20999",
    ]


def test_rules_in_every_format() -> None:
    iptables = render(ENTRIES, "iptables", sip_port=5061).splitlines()
    assert iptables[1:] == [
        'iptables -A INPUT -s 203.0.113.5/32 -p udp --sport 5062 -m comment --comment "telesip SIP" -j ACCEPT',
        'iptables -A INPUT -s 203.0.113.5/32 -p tcp --dport 5061 -m comment --comment "telesip SIP" -j ACCEPT',
        'iptables -A INPUT -s 203.0.113.5/32 -p udp --sport 20000:20999 -m comment --comment "telesip RTP" -j ACCEPT',
        'ip6tables -A INPUT -s 2001:db8::5/128 -p udp --sport 5062 -m comment --comment "telesip SIP" -j ACCEPT',
        'ip6tables -A INPUT -s 2001:db8::5/128 -p tcp --dport 5061 -m comment --comment "telesip SIP" -j ACCEPT',
        'ip6tables -A INPUT -s 2001:db8::5/128 -p udp --sport 20000:20999 -m comment --comment "telesip RTP" -j ACCEPT',
    ]  # fmt: skip
    nft = render(ENTRIES, "nftables").splitlines()
    assert (
        'add rule inet filter input ip saddr 203.0.113.5 udp sport 5062 accept comment "telesip SIP"'
        in nft
    )
    assert (
        'add rule inet filter input ip6 saddr 2001:db8::5 tcp dport { 5060, 5061 } accept comment "telesip SIP"'
        in nft
    )
    assert (
        'add rule inet filter input ip saddr 203.0.113.5 udp sport 20000-20999 accept comment "telesip RTP"'
        in nft
    )
    asterisk = render(ENTRIES, "asterisk").splitlines()
    assert [x for x in asterisk if not x.startswith(";")] == [
        "deny=0.0.0.0/0.0.0.0", "deny=::/0",
        "permit=203.0.113.5/255.255.255.255", "permit=2001:db8::5/128",
    ]  # fmt: skip
    assert ";   Permit: 203.0.113.5/255.255.255.255&2001:db8::5/128" in asterisk
    plain = render(ENTRIES, "plain")
    assert "203.0.113.5" in plain and "SIP udp from port 5062" in plain
    for text in (plain, *iptables, *nft, *asterisk):
        assert "pbx.example.com" not in text and "reboot" not in text and "198.51.100.1" not in text
    assert render([], "iptables").startswith("# no worker address")
    with pytest.raises(ValueError):
        render(ENTRIES, "pf")


def test_before_any_registrar_answers() -> None:
    assert fallback_ips("0.0.0.0", "192.0.2.10") == ["192.0.2.10"]
    assert fallback_ips("0.0.0.0", "localhost") == ["127.0.0.1"] or "::1" in fallback_ips(
        "0.0.0.0", "localhost"
    )
    assert fallback_ips("127.0.0.1", None) == ["127.0.0.1"]
    assert all(":" not in ip and ip.count(".") == 3 for ip in fallback_ips("0.0.0.0", None))


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory, tls_cert: Cert) -> Iterator[Kamailio]:  # noqa: F811
    with run_kamailio(tmp_path_factory.mktemp("kamailio"), tls_cert) as kam:
        yield kam


def cli(tmp: Path, *args: str) -> str:
    env = {
        "TELESIP_DATA_DIR": str(tmp),
        "TELESIP_SECRET_KEY": SECRET_KEY,
        "TELESIP_DATABASE_URL": "",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.kamailio
async def test_the_address_the_registrar_saw_goes_before_the_advertised_one(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    """The worker advertises 192.0.2.10 (TELESIP_SIP_ADVERTISE, as behind NAT); Kamailio sees
    its datagrams come from 127.0.0.1 and says so in Via received: the list names 127.0.0.1."""
    async with services_for(
        Settings(data_dir=tmp_path, secret_key=SECRET_KEY), upgrade=True
    ) as deps:
        await fleet.create_worker(deps, "fw1")
        account_id = await accounts.create_account(deps, OWNER, sip(kamailio, "opsfw1"))
        worker = Telesip(
            tmp_path, {"TELESIP_SIP_ADVERTISE": "192.0.2.10", "TELESIP_RTP_PORTS": "31000-31099"}
        )
        await worker.start("worker", "--name", "fw1")
        try:

            async def published() -> list[str] | None:
                found = [w for w in await fleet.list_workers(deps, ttl=3) if w.name == "fw1"]
                return found[0].addresses if found and found[0].alive else None

            before = await until(published, 60, "joined", worker)
            assert describe(before)[0].startswith("192.0.2.10: SIP udp ")

            async def seen() -> list[str] | None:
                now = await fleet.firewall(deps, account_id, ttl=3)
                return now if any("127.0.0.1" in x for x in now) else None

            entries = await until(seen, 30, "the registrar-seen address published", worker)
            udp_port = next(x for x in entries if x.startswith("udp:")).rsplit(":", 1)[1]
            assert describe(entries) == [
                f"127.0.0.1: SIP udp {udp_port}, tcp, tls; RTP udp 31000-31099"
            ]
            card = await accounts.get_card(deps, OWNER, account_id)
            assert describe(card.firewall) == describe(entries)
            iptables = await asyncio.to_thread(
                cli, tmp_path, "workers", "firewall", str(account_id), "--format", "iptables"
            )
            assert f"iptables -A INPUT -s 127.0.0.1/32 -p udp --sport {udp_port} " in iptables
            assert f"-p tcp --dport {kamailio.port} " in iptables  # the account's server port
            assert "--sport 31000:31099" in iptables and "192.0.2.10" not in iptables
            asterisk = await asyncio.to_thread(
                cli, tmp_path, "workers", "firewall", "--format", "asterisk"
            )
            assert "permit=127.0.0.1/255.255.255.255" in asterisk and "192.0.2.10" not in asterisk
        finally:
            assert await worker.stop() == 0
