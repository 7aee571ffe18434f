"""The calls rig, end to end and offline, inside a network namespace the test makes: Kamailio
(registrar and proxy: INVITEs from the far phone go to the registered line, INVITEs from a line
are challenged and go to the far phone), a telesip worker with its CallManager registered there,
SIPp as the far phone's signalling, a test-side RTP endpoint as its media, and the Telegram side
played by FakeTelegram: a caller account and the line's user, each with its own ntgcalls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

import tests.sip_integration.conftest as sip_conftest
from telesip.bot.app import build_dispatcher
from telesip.bot.limiter import RateLimiter
from telesip.bot.outbox import Outbox
from telesip.calls.manager import CallManager
from telesip.calls.rtp_ports import PortPool
from telesip.calls.rtp_stream import RtpStream
from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.pool import CallerPool
from telesip.domain.clock import SystemClock
from telesip.domain.settings import AccountSettings, Secret
from telesip.media import MediaParams
from telesip.services import accounts
from telesip.services.callers import caller_info, record_caller
from telesip.services.dependencies import Dependencies, Rules
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.workers.registrar import RegistrationManager
from telesip.workers.remote import RemoteWorker
from telesip.workers.service import Timing, Worker
from tests.calls.sipp import Sipp, run_sipp
from tests.calls.telegram.netns import Netns, netns  # noqa: F401
from tests.conftest import TEST_KEY
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI, FakeUser
from tests.fakes.telegram_calls import Behaviour, FakeTelegram, FakeTelegramUser
from tests.fleet.test_worker import Forward
from tests.sip_integration.conftest import (  # noqa: F401
    Cert,
    eventually,
    free_port,
    need,
    run_kamailio,
    tls_cert,
)

# INVITEs from the far phone (From user "sipp") go to the registered line; a line's INVITE is
# challenged (407, password pw-<login>) and then relayed to the far phone's SIPp (UAS_PORT).
CALLS_ROUTE = """request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    $var(pw) = "pw-" + $au;
    if (is_method("REGISTER")) {{
        if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {{ auth_challenge("$fd", "0"); exit; }}
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    if (!is_method("INVITE")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    record_route();
    if ($fU == "sipp") {{
        if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
        t_relay();
        exit;
    }}
    if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {{ auth_challenge("$fd", "0"); exit; }}
    consume_credentials();
    $du = "sip:127.0.0.1:UAS_PORT";
    t_relay();
}}
"""

#: how long a test waits for a call to end after the far side ended it: a bound on behaviour,
#: not a latency target (bench/bench_calls.py measures latency); generous for a loaded machine
ENDS_WITHIN = 10.0
CALLER = TgUser(777000, "Telesip", "Calls", username="telesip_calls")
ALICE_TG = FakeUser(ALICE.id, "Alice", username="alice")


@pytest.fixture
def calls_kamailio(
    netns: Netns,  # noqa: F811 - first: everything below lives in the namespace
    tmp_path: Path,
    tls_cert: Cert,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[sip_conftest.Kamailio, int]]:
    uas_port = free_port()
    base = sip_conftest.KAMAILIO_CFG
    cfg = base[: base.index("request_route")] + CALLS_ROUTE.replace("UAS_PORT", str(uas_port))
    monkeypatch.setattr(sip_conftest, "KAMAILIO_CFG", cfg)
    (tmp_path / "kam").mkdir()
    with run_kamailio(tmp_path / "kam", tls_cert) as kam:
        yield kam, uas_port


@dataclass
class Rig:
    deps: Dependencies

    kam: sip_conftest.Kamailio
    uas_port: int
    sipp: str
    tmp: Path
    telegram: FakeTelegram
    pool: CallerPool
    calls: CallManager
    worker: Worker | RemoteWorker
    line: int
    person: FakeTelegramUser
    far: Far = field(init=False)

    def __post_init__(self) -> None:
        self.far = Far()


@dataclass
class Far:
    """The far phone's media: a test-side RTP endpoint (what it hears, kept)."""

    stream: RtpStream | None = None
    heard: list[np.ndarray] = field(default_factory=list)  # type: ignore[type-arg]
    sound = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def hear(self, frame: np.ndarray) -> None:  # type: ignore[type-arg]
        self.heard.append(frame)
        if np.any(frame):
            self.sound += frame.size
        self._changed.set()

    async def sound_of(self, seconds: float) -> np.ndarray:  # type: ignore[type-arg]
        need_ = int(seconds * 8000)
        while self.sound < need_:
            self._changed.clear()
            await self._changed.wait()
        return np.concatenate(self.heard)[-need_:]


@dataclass
class Keys:
    """The digits the far phone receives as RFC 4733 events (``far.on_dtmf(keys)``)."""

    digits: list[str] = field(default_factory=list)
    got: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, digit: str) -> None:
        self.digits.append(digit)
        self.got.set()


async def open_far(rig: Rig) -> RtpStream:
    params = MediaParams("PCMA", 8, dtmf_payload_type=101)  # as the SIPp scenarios offer
    stream = await RtpStream.open(PortPool("31000-31099"), "127.0.0.1", params)
    stream.on_pcm(rig.far.hear)
    rig.far.stream = stream
    return stream


async def dial_line(rig: Rig, scenario: str) -> Sipp:
    """The far phone (SIPp running ``scenario``) calls line 100 through Kamailio."""
    return await run_sipp(
        rig.sipp, rig.tmp, scenario, port=free_port(), remote=f"127.0.0.1:{rig.kam.port}"
    )


async def database(tmp_path: Path) -> Dependencies:
    """The service's database: a migrated SQLite file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'telesip.db'}")
    await migrate.upgrade(engine)
    return Dependencies(engine, Cipher(TEST_KEY), SystemClock(), Rules())


def line_settings(kam: sip_conftest.Kamailio, **changes: object) -> AccountSettings:
    """Line 100 at the rig's Kamailio (its password as Kamailio expects it)."""
    settings = AccountSettings(
        login="100", password=Secret("pw-100"), domain="127.0.0.1", port=kam.port, expires=60
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def telegram_side() -> tuple[FakeTelegram, CallerPool, FakeTelegramUser]:
    """The fake Telegram, a pool of one caller account, and Alice answering after 0.3 s."""
    telegram = FakeTelegram()
    pool = CallerPool([telegram.account(CALLER)])
    return telegram, pool, telegram.user(ALICE.id, Behaviour.answer(0.3), name="Alice")


@pytest.fixture
async def rig(
    calls_kamailio: tuple[sip_conftest.Kamailio, int],
    tmp_path: Path,
    tls_cert: Cert,  # noqa: F811
) -> AsyncIterator[Rig]:
    kam, uas_port = calls_kamailio
    sipp = need("sipp")
    s = await database(tmp_path)
    line = await accounts.create_account(s, ALICE, line_settings(kam))
    telegram, pool, person = telegram_side()
    sink = Forward()
    manager = RegistrationManager(
        status_sink=sink, bind_host="127.0.0.1", tls_context=tls_cert.client_context()
    )
    await manager.start()
    calls = CallManager(
        manager, pool, ports=PortPool("30000-30099"), media_bind="127.0.0.1", ring_timeout=5
    )
    worker = Worker(s, manager, name="calls-test", timing=Timing(ttl=10, poll=0.2), calls=calls)
    sink.target = worker.on_status
    runner = asyncio.create_task(worker.run())
    rig = Rig(s, kam, uas_port, sipp, tmp_path, telegram, pool, calls, worker, line, person)
    try:
        await eventually(lambda: bool(kam.contacts("100")), 15, "line 100 to register")
        yield rig
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await worker.stop()
        if rig.far.stream is not None:
            await rig.far.stream.close()
        await telegram.close()
        await s.engine.dispose()


@pytest.fixture
async def bot(rig: Rig) -> AsyncIterator[FakeBotAPI]:
    """The real bot and its outbox on the rig's database, against the fake Bot API; the rig's
    Telegram side is the caller account (as `telesip telegram login` records it)."""
    await record_caller(rig.deps, caller_info(777, "Telesip Calls", "telesip_calls", None))
    async with FakeBotAPI(bot_username="telesip_test_bot") as fake:
        tg = Bot(
            fake.token, session=fake.session(), default=DefaultBotProperties(parse_mode="HTML")
        )
        tg.session.middleware(RateLimiter(overall_per_second=1000, per_chat_burst=1000))
        dp = build_dispatcher(rig.deps)
        outbox = Outbox(rig.deps, tg, rig.tmp / "recordings", interval=0.1)
        outbox.start()
        task = asyncio.create_task(dp.start_polling(tg, handle_signals=False, polling_timeout=5))
        try:
            yield fake
        finally:
            await dp.stop_polling()
            await task
            await outbox.stop()
            await tg.session.close()
