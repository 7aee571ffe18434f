"""/workers as an administrator uses it (issue 5): the list with the addresses to allow, New
(a remote worker whose credential is shown once), Revoke; the firewall list on the card."""

from __future__ import annotations

import pytest

from telesip.domain import errors
from telesip.domain.firewall import publish
from telesip.services import fleet, leases

from .conftest import ALICE, BOB, Harness, tg


@pytest.mark.both_backends
async def test_workers_new_revoke_and_the_firewall_line(h: Harness) -> None:
    shared, _ = await fleet.create_worker(h.deps, "pool-1")
    published = publish(["203.0.113.5", "2001:db8::5", "vm"], udp_port=5060, rtp="20000-20999")
    ref = await fleet.join(
        h.deps, "pool-1", addresses=[*published, "tcp:vm"]
    )  # a name: never shown
    await leases.heartbeat(h.deps, ref)

    listing = await h.command(ALICE, "/workers")
    assert "pool-1" in listing.content and "vm" not in listing.content
    assert "203.0.113.5: SIP udp 5060, tcp, tls; RTP udp 20000-20999" in listing.content
    assert "2001:db8::5: SIP udp 5060, tcp, tls; RTP udp 20000-20999" in listing.content

    await h.fake.press_button(ALICE, listing, "New worker")
    assert "Name" in (await h.fake.next_message(ALICE)).content
    h.fake.send_text(ALICE, "bad name!")
    assert "letters, digits" in (await h.fake.next_message(ALICE)).content
    h.fake.send_text(ALICE, "office-lan")
    created = await h.fake.next_message(ALICE)
    assert "office-lan" in created.content and "TELESIP_WORKER_CREDENTIAL=tsw_" in created.content
    credential = created.content.split("TELESIP_WORKER_CREDENTIAL=", 1)[1].split()[0]
    remote = await fleet.join(h.deps, "office-lan", credential=credential, remote=True)
    assert remote.owner_id == ALICE.id

    # the card of an unpinned account tells what the PBX must allow
    account_id = await h.new_account(ALICE)
    card = await h.card(ALICE, account_id)
    await h.fake.wait_for(lambda: "Allow at the PBX" in card.content)
    assert "203.0.113.5: SIP udp 5060, tcp, tls; RTP udp 20000-20999" in card.content
    assert "2001:db8::5: SIP" in card.content and "vm" not in card.content

    # Bob sees the shared worker, not Alice's, and has nothing to revoke
    bobs = await h.command(BOB, "/workers")
    assert "pool-1" in bobs.content and "office-lan" not in bobs.content
    assert not any("Revoke" in b for b in bobs.button_texts)

    mine = await h.command(ALICE, "/workers")
    assert "office-lan" in mine.content and "(yours)" in mine.content
    answer = await h.fake.press_button(ALICE, mine, "🚫 Revoke office-lan")
    assert "revoked" in (answer.text or "")
    with pytest.raises(errors.WorkerRefused):
        await fleet.join(h.deps, "office-lan", credential=credential, remote=True)
    views = {v.name: v for v in await fleet.list_workers(h.deps, ttl=10, owner_id=tg(ALICE).id)}
    assert views["office-lan"].revoked and not views["pool-1"].revoked
    assert shared
