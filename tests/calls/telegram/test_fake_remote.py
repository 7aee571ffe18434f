"""FakeTelegram over a socket, both ends in this process: the typed values, bytes and errors make
the round trip, updates reach the right account, and a TelegramLeg on a FakeTelegramClient
completes a real ntgcalls call with a person served by the other end (in a namespace)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telesip.calls.telegram.adapter import (
    CallAccepted,
    CallDiscarded,
    CallProtocol,
    CallReady,
    CallRef,
    CallRequested,
    CallServer,
    CallSignaling,
    CallUpdate,
    CallWaiting,
    Subscription,
    TgUser,
)
from telesip.calls.telegram.errors import CallerUnavailable, CallGone, CallPrivacyRestricted
from telesip.calls.telegram.leg import TelegramLeg
from tests.calls.telegram.netns import Netns
from tests.fakes.telegram_calls import TELEGRAM_P, Behaviour, FakeTelegram, PcmRecorder, play_tone
from tests.fakes.telegram_calls_remote import (
    FakeTelegramClient,
    FakeTelegramServer,
    decode,
    encode,
)

CALLER = TgUser(100, "Telesip", username="telesip_calls")
ALICE = TgUser(1001, "Alice")
PROTO = CallProtocol(92, 92, ("9.0.0", "11.0.0"))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, str]]:
    path = str(tmp_path / "tg.sock")
    async with FakeTelegram() as tg, await FakeTelegramServer.start(tg, path=path):
        yield tg, path


async def _next(sub: Subscription) -> CallUpdate:
    async with asyncio.timeout(2):
        return await sub.get()


def test_values_survive_the_wire() -> None:
    ready = CallReady(
        CallRef(7, -3),
        os.urandom(256),
        -(2**63),
        (CallServer(1, "127.0.1.1", "", 5000, "u", "p", turn=True, peer_tag=b"\x00\xff"),),
        True,
        PROTO,
    )
    assert decode(encode(ready)) == ready
    assert decode(encode(CALLER)) == CALLER
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(ValueError):
        decode({"$t": "Popen", "args": "sh"})


async def test_a_call_between_two_remote_accounts(served: tuple[FakeTelegram, str]) -> None:
    tg, path = served
    caller = await FakeTelegramClient.connect(CALLER, path=path)
    alice = await FakeTelegramClient.connect(ALICE, path=path)
    try:
        assert caller.me == CALLER
        dh = await caller.get_dh_config()
        assert dh.g == 3 and dh.p == TELEGRAM_P and len(dh.random) == 256
        ours, theirs = caller.updates(), alice.updates()
        g_a = os.urandom(256)
        ref = await caller.request_call(ALICE.id, hashlib.sha256(g_a).digest(), PROTO)
        requested = await _next(theirs)
        assert isinstance(requested, CallRequested) and requested.call == ref
        assert requested.g_a_hash == hashlib.sha256(g_a).digest() and requested.protocol == PROTO

        await alice.received_call(ref)
        assert await _next(ours) == CallWaiting(ref, received=True)
        g_b = os.urandom(256)
        await alice.accept_call(ref, g_b, PROTO)
        accepted = await _next(ours)
        assert isinstance(accepted, CallAccepted) and accepted.g_b == g_b

        with pytest.raises(Exception, match="G_A_INVALID"):  # checked against the hash
            await caller.confirm_call(ref, os.urandom(256), 1, PROTO)
        ready = await caller.confirm_call(ref, g_a, -12345, PROTO)
        assert ready.key_fingerprint == -12345 and ready.p2p_allowed
        theirs_ready = await _next(theirs)
        assert isinstance(theirs_ready, CallReady) and theirs_ready.g_a_or_b == g_a

        blob = bytes(range(256)) * 8
        await caller.send_signaling(ref, blob)
        assert await _next(theirs) == CallSignaling(ref.id, blob)
        await alice.send_signaling(ref, b"\x00")
        assert await _next(ours) == CallSignaling(ref.id, b"\x00")

        await alice.discard_call(ref, "hangup", 3)
        assert await _next(ours) == CallDiscarded(ref.id, "hangup", 3)
        assert await _next(theirs) == CallDiscarded(ref.id, "hangup", 3)
        with pytest.raises(CallGone):
            await alice.accept_call(ref, g_b, PROTO)
        assert tg.call(ref.id).discarded_by == ALICE.id
        assert [m for who, m in tg.rpcs if who == CALLER.id][:2] == ["getDhConfig", "requestCall"]
    finally:
        await caller.close()
        await alice.close()


async def test_errors_keep_their_class_and_parameters(served: tuple[FakeTelegram, str]) -> None:
    tg, path = served
    tg.user(ALICE.id, Behaviour.privacy())
    caller = await FakeTelegramClient.connect(CALLER, path=path)
    try:
        with pytest.raises(CallPrivacyRestricted) as info:
            await caller.request_call(ALICE.id, os.urandom(32), PROTO)
        assert info.value.params == {"user_id": ALICE.id}
        assert "Privacy and Security" in info.value.message
    finally:
        await caller.close()


async def test_a_lost_server_fails_calls_and_ends_subscriptions(tmp_path: Path) -> None:
    path = str(tmp_path / "tg.sock")
    async with FakeTelegram() as tg:
        server = await FakeTelegramServer.start(tg, path=path)
        caller = await FakeTelegramClient.connect(CALLER, path=path)
        sub = caller.updates()
        await server.close()
        async with asyncio.timeout(2):
            with pytest.raises(StopAsyncIteration):
                await sub.get()
        with pytest.raises(CallerUnavailable):
            await caller.get_dh_config()
        await caller.close()
    with pytest.raises(CallerUnavailable):
        await FakeTelegramClient.connect(CALLER, path=path)


async def test_a_leg_calls_a_person_in_the_other_process(netns: Netns) -> None:
    async with (
        FakeTelegram() as tg,
        await FakeTelegramServer.start(tg, host=netns.b, port=0) as server,
    ):
        alice = tg.user(ALICE.id, Behaviour.answer(after=0.05), tone_hz=440)
        caller = await FakeTelegramClient.connect(CALLER, host=netns.b, port=server.port)
        try:
            leg = TelegramLeg(caller)
            heard = PcmRecorder()
            leg.on_pcm(heard)
            await leg.start(ALICE.id)
            async with asyncio.timeout(10):
                assert await leg.wait_until("connected")
                await alice.connected.wait()
            tone = asyncio.create_task(play_tone(leg.send_pcm, 1000))
            try:
                async with asyncio.timeout(10):
                    assert (await alice.heard.sound(0.5)).size == 4000
                    assert (await heard.sound(0.5)).size == 4000
            finally:
                tone.cancel()
            await leg.hangup()
            async with asyncio.timeout(5):
                await alice.ended.wait()
            assert leg.end_reason == "hangup" and alice.end_reason == "hangup"
            assert tg.calls[0].discarded_by == CALLER.id
        finally:
            await caller.close()
