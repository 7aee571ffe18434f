"""kill -9 of ``telesip run`` in the middle of every use case (issue 18, item 6), on SQLite and
PostgreSQL: the real process (bot, API and worker) against the fake Bot API.

Each use case is stopped at a chosen point, never at a random time: the process runs through
``tests.faults.stall``, which freezes it at the named statement of the use case's unit of work
(``statement``: what came before it is written in the open transaction), or at that unit of
work's commit (``commit``: everything written, nothing committed); ``answer`` holds Telegram's
answer to the bot's reply, which comes after the commit. The test waits for the freeze, kills the
process group with SIGKILL, and starts the next process on the same database.

  offer          at commit   (Alice's chosen inline result makes the offer)
  receive        at statement, then again at answer (Bob presses Receive)
  transfer back  at commit   (Alice's chosen "take back" result)
  link opened    at statement (Carol opens a settings link with /start)
  settings       at commit   (PATCH over the API)
  delete         at statement (DELETE over the API)

PostgreSQL is killed at every point; SQLite, where each start costs the same seconds of imports,
at offer, receive (statement), link and delete in CI, and at every point with
``FAULTS_ALL_POINTS=1`` (the steps it skips are then done, unkilled, by the last process).

After the last kill one more process starts, with no stall. The bot's updates a killed process
had in hand were journaled (bot/journal.py) and handled by a later process, so an interrupted use
case of the bot may be done by then: the test waits for the journal to empty and repeats only
what is not done. Then the R12 invariants hold (every
account has its one owner and one user who exist; at most one pending offer per account; no
offer or link of an account that is gone; an accepted offer has its recipient and the account
moved with its audit row, or none of it), each use case happened entirely or not at all (its
rows and its audit record together), the interrupted ones succeed when repeated, and every
pending offer is acceptable or expired as its clock says: the one Bob was offered is received,
one made ten minutes before its five-minute lifetime ended is refused as expired.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from telesip.domain import errors
from telesip.domain.clock import FakeClock, SystemClock
from telesip.domain.model import Method
from telesip.services import accounts, billing, links, offers, operators
from telesip.services.dependencies import Dependencies
from telesip.services.operators import Scope
from telesip.store import tables as t
from tests.bot.conftest import ALICE as ALICE_TG
from tests.bot.conftest import BOB as BOB_TG
from tests.bot.conftest import CAROL as CAROL_TG
from tests.conftest import TEST_KEY, make_services
from tests.core.helpers import ALICE, BOB, CAROL, PASSWORD, sip
from tests.fakes import FakeBotAPI, FakeInlineMessage

ROOT = Path(__file__).resolve().parents[2]
WITHIN = 60.0  # seconds a process gets to start, or to reach its point under a loaded machine


@dataclass
class Service:
    """``telesip run`` processes, one after the other, on one database."""

    tmp: Path
    env: dict[str, str]
    api: str
    proc: asyncio.subprocess.Process | None = None
    lives: int = 0
    logs: list[Path] = field(default_factory=list)

    async def start(self, match: str | None = None, at: str = "statement") -> Path:
        """Start the next process; with ``match``, it freezes there (tests/faults/stall.py).
        Returns the file it writes when it does."""
        self.lives += 1
        mark = self.tmp / f"stalled-{self.lives}"
        log = self.tmp / f"run-{self.lives}.log"
        self.logs.append(log)
        env = self.env | {"FAULTS_STALL_MARK": str(mark), "FAULTS_STALL_AT": at}
        if match is not None:
            env["FAULTS_STALL_MATCH"] = match
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.faults.stall", "run",
                cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        return mark

    async def ready(self, fake: FakeBotAPI) -> None:
        """The API answers /readyz and the bot polls the fake again."""
        polls = len(fake.calls("getUpdates"))
        began = asyncio.get_running_loop().time()
        async with httpx.AsyncClient(timeout=5) as http:
            await self.until(lambda: _ready(http, self.api), "API ready")
        await self.until(lambda: _true(len(fake.calls("getUpdates")) > polls), "bot polling")
        print(f"process {self.lives} ready in {asyncio.get_running_loop().time() - began:.1f} s")

    async def until(self, probe: Any, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + WITHIN
        while not await probe():
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"telesip exited ({self.proc.returncode}): {what}\n{self.log()}"
                )
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not within {WITHIN}s: {what}\n{self.log()}")
            await asyncio.sleep(0.05)

    async def frozen(self, mark: Path) -> str:
        await self.until(lambda: _true(mark.exists() and mark.stat().st_size > 0), f"{mark.name}")
        return await asyncio.to_thread(mark.read_text)

    async def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()

    def log(self) -> str:
        return self.logs[-1].read_text()[-4000:] if self.logs else ""


async def _true(value: bool) -> bool:
    return value


async def _ready(http: httpx.AsyncClient, api: str) -> bool:
    try:
        return (await http.get(f"{api}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _rows(deps: Dependencies, query: Any) -> list[Any]:
    async with deps.engine.connect() as conn:
        return list(await conn.execute(query))


async def _audited(deps: Dependencies, action: str, account_id: int) -> int:
    q = select(func.count()).where(t.audit.c.action == action, t.audit.c.account_id == account_id)
    return int((await _rows(deps, q))[0][0])


async def _account(deps: Dependencies, account_id: int) -> Any:
    found = await _rows(deps, select(t.accounts).where(t.accounts.c.id == account_id))
    return found[0] if found else None


async def check_r12(deps: Dependencies) -> None:
    """The R12 invariants on the whole database."""
    users = {r.id for r in await _rows(deps, select(t.users.c.id))}
    accounts_ = await _rows(deps, select(t.accounts))
    ids = {a.id for a in accounts_}
    for a in accounts_:
        assert a.owner_id in users and a.user_id in users, f"account {a.id}: owner/user missing"
    all_offers = await _rows(deps, select(t.offers))
    pending: dict[int, int] = {}
    for o in all_offers:
        assert o.account_id in ids, f"offer {o.id} of a deleted account"
        if o.state == "pending":
            pending[o.account_id] = pending.get(o.account_id, 0) + 1
        if o.state == "accepted":
            assert o.recipient_id is not None and o.decided_at is not None, o
    assert all(n == 1 for n in pending.values()), f"two pending offers: {pending}"
    for link in await _rows(deps, select(t.links)):
        assert link.account_id in ids, f"link {link.id} of a deleted account"
        assert (link.used_by is None) == (link.used_at is None), link


#: every kill point, in the order the test reaches them
EVERY = (
    "offer@commit", "receive@statement", "receive@answer", "transfer back@commit",
    "link@statement", "settings@commit", "delete@statement",
)  # fmt: skip
#: each process start costs seconds of imports: CI kills SQLite at the points of its own path
#: (the Core steps every use case takes there) and PostgreSQL at all of them; FAULTS_ALL_POINTS=1
#: kills SQLite at every point too (about 8 process starts, minutes on a loaded machine)
CHOSEN = {
    "pg": EVERY,
    "sqlite": EVERY
    if os.environ.get("FAULTS_ALL_POINTS") == "1"
    else ("offer@commit", "receive@statement", "link@statement", "delete@statement"),
}


@pytest.mark.parametrize("backend", ["sqlite", "pg"])
@pytest.mark.timeout(600)  # eight starts of `telesip run`, each up to WITHIN on a loaded machine
async def test_kill_9_in_the_middle_of_every_use_case(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeBotAPI
) -> None:
    deps = await make_services(backend, request, tmp_path, SystemClock())
    try:
        await _run(deps, backend, tmp_path, fake, set(CHOSEN[backend]))
    finally:
        fake.release()
        await deps.engine.dispose()


async def _run(
    deps: Dependencies, backend: str, tmp: Path, fake: FakeBotAPI, points: set[str]
) -> None:
    await billing.set_subscription(deps, ALICE, "office", -1)
    line = {"domain": "127.0.0.1", "port": 9}  # nothing answers there: the worker just retries
    a_offer, a_link, a_set, a_del, a_exp = [
        await accounts.create_account(deps, ALICE, sip(str(700 + i), **line)) for i in range(5)
    ]
    link = await links.create_link(deps, ALICE, a_link)
    earlier = FakeClock(datetime.now(UTC) - timedelta(minutes=10))
    expired = await offers.create_offer(replace(deps, clock=earlier), ALICE, a_exp, Method.UNLINK)
    token = (await operators.create_api_key(deps, "ops", Scope(all=True))).token
    for person in (ALICE_TG, BOB_TG, CAROL_TG):
        fake.start_chat(person)
    port = _free_port()
    env = os.environ | {
        "TELESIP_DATA_DIR": str(tmp),
        "TELESIP_SECRET_KEY": TEST_KEY,
        "TELESIP_BOT_TOKEN": fake.token,
        "TELESIP_BOT_API_URL": fake.base_url,
        "TELESIP_API_BIND": f"127.0.0.1:{port}",
        "TELESIP_SIP_BIND": "127.0.0.1:0",
        "TELESIP_LEASE_TTL_SECONDS": "3",
        "TELESIP_METRICS_BIND": "",
    }
    if backend == "pg":
        env["TELESIP_DATABASE_URL"] = deps.engine.url.render_as_string(hide_password=False)
    api = f"http://127.0.0.1:{port}"
    svc = Service(tmp, env, api)
    http = httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"})
    background: list[asyncio.Task[Any]] = []
    try:
        # 1. offer, frozen at its commit
        mark = await svc.start(r"INSERT INTO audit.*'offer_created'", "commit")
        await svc.ready(fake)
        choices = await fake.inline_query(ALICE_TG, f"#{a_offer}")
        msg = fake.choose_inline_result(
            ALICE_TG, choices, f"unlink:{a_offer}", into_chat_with=BOB_TG
        )
        await svc.frozen(mark)
        await svc.kill()
        assert await _pending_offers(deps, a_offer) == await _audited(
            deps, "offer_created", a_offer
        )

        # 2. receive, frozen before its audit row (the Core path: the account moved already)
        mark = await svc.start(r"INSERT INTO audit.*'received'", "statement")
        await svc.ready(fake)
        fake.press_inline(BOB_TG, msg, _receive(msg))
        await svc.frozen(mark)
        await svc.kill()
        row = await _account(deps, a_offer)
        assert row.owner_id == ALICE.id and await _audited(deps, "received", a_offer) == 0

        # 3. receive again: committed, frozen while Telegram holds the answer to the press
        assert points <= set(EVERY) and points >= {
            "offer@commit",
            "receive@statement",
            "link@statement",
            "delete@statement",
        }  # the steps below always run: they need no earlier kill
        if "receive@answer" in points:
            await svc.start()
            await svc.ready(fake)
            fake.hold("answerCallbackQuery")
            fake.press_inline(BOB_TG, msg, _receive(msg))
            await svc.until(lambda: _true(bool(fake.calls("answerCallbackQuery"))), "the answer")
            await svc.kill()
            fake.release()
            row = await _account(deps, a_offer)
            assert row.owner_id == BOB.id and row.user_id == BOB.id, "received, committed"
            assert await _audited(deps, "received", a_offer) == 1

        # 4. transfer back, frozen at its commit (after the receive, when 3 did not run); on
        # PostgreSQL it is one call of telesip_transfer_back (lock, checks, write and audit in
        # one statement, no transaction block): frozen as that call goes out
        if "transfer back@commit" in points:
            if backend == "pg":
                mark = await svc.start(r"telesip_transfer_back", "statement")
            else:
                mark = await svc.start(r"INSERT INTO audit.*'transferred_back'", "commit")
            await svc.ready(fake)
            back = await fake.inline_query(ALICE_TG, f"{a_offer} {PASSWORD}")
            fake.choose_inline_result(ALICE_TG, back, f"back:{a_offer}", into_chat_with=BOB_TG)
            await svc.frozen(mark)
            await svc.kill()
            row = await _account(deps, a_offer)
            assert row.owner_id == BOB.id and await _audited(deps, "transferred_back", a_offer) == 0

        # 5. link opened, frozen before its audit row (link used, account assigned: uncommitted)
        mark = await svc.start(r"INSERT INTO audit.*'link_opened'", "statement")
        await svc.ready(fake)
        fake.send_text(CAROL_TG, f"/start {link.token}")
        await svc.frozen(mark)
        await svc.kill()
        (used,) = await _rows(deps, select(t.links).where(t.links.c.id == link.id))
        assert used.used_by is None and (await _account(deps, a_link)).user_id == ALICE.id

        # 6. settings changed over the API, frozen at its commit
        patch = {"display_name": "Reception"}
        if "settings@commit" in points:
            mark = await svc.start(r"INSERT INTO audit.*'settings_changed'", "commit")
            await svc.ready(fake)
            background.append(
                asyncio.create_task(http.patch(f"/api/v1/accounts/{a_set}/settings", json=patch))
            )
            await svc.frozen(mark)
            await svc.kill()
            assert (await _account(deps, a_set)).display_name is None

        # 7. account deleted over the API, frozen before its audit row (the row is gone in it)
        mark = await svc.start(r"INSERT INTO audit.*'deleted'", "statement")
        await svc.ready(fake)
        background.append(asyncio.create_task(http.delete(f"/api/v1/accounts/{a_del}")))
        await svc.frozen(mark)
        await svc.kill()
        assert (
            await _account(deps, a_del) is not None and await _audited(deps, "deleted", a_del) == 0
        )

        # the last start: no stall. The updates a killed process had in hand were journaled
        # (bot/journal.py): a later process took them over and handled them, so an interrupted
        # use case of the bot may be done already; once the journal is empty, everything is
        # consistent and the interrupted use cases not done yet work.
        await svc.start()
        await svc.ready(fake)
        await svc.until(lambda: _journal_empty(deps), "every journaled update handled")
        await check_r12(deps)
        if not await _audited(deps, "received", a_offer):  # step 3 did not run
            fake.press_inline(BOB_TG, msg, _receive(msg))
            await svc.until(lambda: _owned(deps, a_offer, BOB.id), "Bob received the line")
        if not await _audited(deps, "transferred_back", a_offer):
            back = await fake.inline_query(ALICE_TG, f"{a_offer} {PASSWORD}")
            again = fake.choose_inline_result(
                ALICE_TG, back, f"back:{a_offer}", into_chat_with=BOB_TG
            )
            await fake.wait_for(lambda: "is back with" in again.content)
        if not await _assigned(deps, a_link, CAROL.id):
            fake.send_text(CAROL_TG, f"/start {link.token}")
            await svc.until(lambda: _assigned(deps, a_link, CAROL.id), "the link opened by Carol")
        changed = await http.patch(f"/api/v1/accounts/{a_set}/settings", json=patch)
        assert changed.status_code == 200, changed.text
        gone = await http.delete(f"/api/v1/accounts/{a_del}")
        assert gone.status_code == 204, gone.text
        with pytest.raises(errors.OfferExpired):
            await offers.receive(deps, BOB, expired.id)
        await check_r12(deps)
        for account_id, action in (
            (a_offer, "received"),
            (a_offer, "transferred_back"),
            (a_link, "link_opened"),
            (a_set, "settings_changed"),
            (a_del, "deleted"),
        ):
            assert await _audited(deps, action, account_id) == 1, f"{action} of #{account_id}"
        assert (await _account(deps, a_offer)).owner_id == ALICE.id
        assert (await _account(deps, a_set)).display_name == "Reception"
        assert await _account(deps, a_del) is None
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await http.aclose()
        await svc.stop()


async def _journal_empty(deps: Dependencies) -> bool:
    return not await _rows(deps, select(t.bot_updates.c.update_id))


def _receive(msg: FakeInlineMessage) -> str:
    """The callback data of the message's Receive button (a draft's or the offer's)."""
    return msg.callback_data("Receive")


async def _pending_offers(deps: Dependencies, account_id: int) -> int:
    q = select(func.count()).where(
        t.offers.c.account_id == account_id, t.offers.c.state == "pending"
    )
    return int((await _rows(deps, q))[0][0])


async def _owned(deps: Dependencies, account_id: int, owner_id: int) -> bool:
    row = await _account(deps, account_id)
    return row is not None and row.owner_id == owner_id


async def _assigned(deps: Dependencies, account_id: int, user_id: int) -> bool:
    row = await _account(deps, account_id)
    return row is not None and row.user_id == user_id
