"""The caller accounts a process rings people from, connected for as long as it runs.

``open_callers(settings, s)`` connects every stored session (``sessions.SessionStore``) through
``TelethonCalls.connect`` and yields the ``CallerPool`` of those that are connected; on leaving
it disconnects them. Each account has a task of its own, so one account never holds up another:

- a session that cannot be read or connect is logged in one line (the masked phone and the
  reason, never the session) and skipped; it is retried with backoff unless Telegram revoked it;
- an account whose client disconnects (Telethon's own reconnects gave up) leaves the pool at
  once and comes back when a retry connects;
- a connected account's public names are recorded (``services.callers``) so the bot, perhaps
  in another process, can tell people which account calls them;
- the sessions directory is looked at again every ``rescan`` seconds: an account logged in
  since is started, one logged out (its file gone) is disconnected, one logged in again
  (its file changed) is restarted with the new session.

Without TELESIP_TG_API_ID/HASH or without sessions the pool is empty and that is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from telesip.calls.telegram.adapter import TelegramCalls, TgUser
from telesip.calls.telegram.errors import SessionError, SessionRevoked
from telesip.calls.telegram.pool import CallerPool
from telesip.calls.telegram.sessions import SUFFIX, CallerAccount, SessionStore
from telesip.config import Settings
from telesip.domain.callers import mask_phone
from telesip.domain.errors import CodedError, TelesipError
from telesip.services import callers as callers_svc
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)

HOWTO = "calls cannot ring anyone until a caller account is added with `telesip telegram login`"


class CallerConnection(TelegramCalls, Protocol):
    """A connected caller account: its calls, and the lifetime of its connection."""

    async def wait_disconnected(self) -> None:
        """Returns when the connection is gone for good."""
        ...

    async def aclose(self) -> None: ...


Connect = Callable[[CallerAccount], Awaitable[CallerConnection]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: ``first``, then times ``factor``, at most ``cap`` seconds."""

    first: float = 2.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.first * self.factor ** min(attempt, 32))


def api_credentials(settings: Settings) -> tuple[int, str] | None:
    """TELESIP_TG_API_ID and TELESIP_TG_API_HASH, or None when either is unset."""
    api_hash = settings.tg_api_hash.get_secret_value() if settings.tg_api_hash else ""
    if settings.tg_api_id is None or not api_hash:
        return None
    return settings.tg_api_id, api_hash


def telethon_connect(api_id: int, api_hash: str) -> Connect:
    async def connect(account: CallerAccount) -> CallerConnection:
        from telesip.calls.telegram.telethon_adapter import TelethonCalls  # loads Telethon

        return await TelethonCalls.connect(account.session, api_id, api_hash)

    return connect


def describe(account: CallerAccount) -> str:
    """How logs name an account: masked phone and public username, nothing secret."""
    handle = f" (@{account.user.username})" if account.user.username else ""
    return f"caller account {mask_phone(account.phone)}{handle}"


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, CodedError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]


def stored_accounts(
    store: SessionStore, phones: Iterable[str] | None = None
) -> list[CallerAccount]:
    """Every session (of ``phones``) that can be read; the others are logged and skipped."""
    found = []
    for phone in store.phones() if phones is None else phones:
        try:
            found.append(store.load(phone))
        except SessionError as exc:
            name = mask_phone(phone) if phone.isdigit() else f"{phone}{SUFFIX}"
            log.error("caller account %s is skipped: %s", name, _one_line(exc))
    return found


class CallerRuntime:
    """Keeps each account connected and in ``pool`` while it is connected."""

    def __init__(
        self,
        pool: CallerPool,
        connect: Connect,
        *,
        deps: Dependencies | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.pool = pool
        self._connect = connect
        self._s = deps
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self.live: dict[str, CallerConnection] = {}  # phone -> its connection
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tried: dict[str, asyncio.Event] = {}
        self._seen: dict[str, float] = {}  # phone -> mtime of the session file last read
        self._watch: asyncio.Task[None] | None = None

    def start(self, accounts: list[CallerAccount]) -> None:
        for account in accounts:
            self._tried[account.phone] = asyncio.Event()
            self._tasks[account.phone] = asyncio.create_task(
                self._keep(account), name=f"caller-{account.phone}"
            )

    def load(self, store: SessionStore) -> list[CallerAccount]:
        """The accounts whose session file is new or changed since last read."""
        changed = []
        for phone in store.phones():
            try:
                mtime = (store.dir / f"{phone}{SUFFIX}").stat().st_mtime
            except OSError:  # logged out meanwhile
                continue
            if self._seen.get(phone) != mtime:
                self._seen[phone] = mtime
                changed.append(phone)
        return stored_accounts(store, changed)

    async def rescan(self, store: SessionStore) -> None:
        """Start accounts logged in since, restart those logged in again, stop logged out ones."""
        phones = set(store.phones())
        fresh = self.load(store)
        for phone in [p for p in self._seen if p not in phones]:
            del self._seen[phone]
            log.info("caller account %s was logged out: disconnecting it", mask_phone(phone))
            await self._stop(phone)
        for account in fresh:
            await self._stop(account.phone)
        self.start(fresh)

    def watch(self, store: SessionStore, every: float) -> None:
        async def forever() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.rescan(store)
                except Exception as exc:  # keep watching; the running accounts are unaffected
                    log.warning("caller accounts: cannot look at %s: %s", store.dir, _one_line(exc))

        self._watch = asyncio.create_task(forever(), name="caller-accounts-watch")

    async def _stop(self, phone: str) -> None:
        task = self._tasks.pop(phone, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def first_attempts(self) -> None:
        """Returns once every account has been tried at least once."""
        for tried in self._tried.values():
            await tried.wait()

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    async def _keep(self, account: CallerAccount) -> None:
        who = describe(account)
        attempt = 0
        try:
            while True:
                try:
                    conn = await self._connect(account)
                except SessionRevoked as exc:
                    log.error("%s is not used: %s", who, _one_line(exc))
                    await self._forget(who, account.user.id)
                    return
                except Exception as exc:  # unreachable, flood wait, an untranslated error
                    delay = self.backoff.delay(attempt)
                    log.warning(
                        "%s cannot connect: %s; retrying in %.0f s", who, _one_line(exc), delay
                    )
                else:
                    attempt = 0
                    await self._serve(who, account, conn)
                    delay = self.backoff.delay(attempt)
                    log.warning("%s disconnected; reconnecting in %.0f s", who, delay)
                self._tried[account.phone].set()
                attempt += 1
                await self._sleep(delay)
        finally:
            self._tried[account.phone].set()

    async def _serve(self, who: str, account: CallerAccount, conn: CallerConnection) -> None:
        """In the pool from now until the connection goes."""
        me = conn.me
        self.pool.add(conn)
        self.live[account.phone] = conn
        log.info("%s connected: calls come from %s (id %d)", who, me.name, me.id)
        try:
            await self._record(who, me)
            self._tried[account.phone].set()
            await conn.wait_disconnected()
        finally:
            self.pool.remove(me.id)
            self.live.pop(account.phone, None)
            try:
                await conn.aclose()
            except Exception as exc:  # it is going away either way
                log.debug("%s: closing: %s", who, _one_line(exc))

    async def _forget(self, who: str, user_id: int) -> None:
        """A revoked account is no longer named to people (a new login records it again)."""
        if self._s is None:
            return
        try:
            await callers_svc.forget_caller(self._s, user_id)
        except (TelesipError, OSError) as exc:
            log.warning("%s: cannot remove it from the bot's list: %s", who, _one_line(exc))

    async def _record(self, who: str, me: TgUser) -> None:
        if self._s is None:
            return
        try:
            info = callers_svc.caller_info(me.id, me.name, me.username, me.phone)
            await callers_svc.record_caller(self._s, info)
        except (TelesipError, OSError) as exc:  # calls still work; the bot names it later
            log.warning("%s: cannot record it for the bot: %s", who, _one_line(exc))


@contextlib.asynccontextmanager
async def open_callers(
    settings: Settings,
    deps: Dependencies | None = None,
    *,
    connect: Connect | None = None,
    backoff: Backoff | None = None,
    sleep: Sleep = asyncio.sleep,
    startup_wait: float = 10.0,
    rescan: float = 30.0,
) -> AsyncIterator[CallerPool]:
    """The pool of this process's caller accounts, connected until the block ends.

    Waits up to ``startup_wait`` seconds for each account's first attempt; accounts that come
    later join the pool when they connect, and logins and logouts are noticed within
    ``rescan`` seconds. ``connect`` (Telethon) and ``sleep`` (between attempts) are replaced in
    tests."""
    pool = CallerPool()
    if connect is None:
        credentials = api_credentials(settings)
        if credentials is None:
            log.warning("TELESIP_TG_API_ID/TELESIP_TG_API_HASH are not set: %s", HOWTO)
            yield pool
            return
        connect = telethon_connect(*credentials)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    try:
        store = SessionStore.open(settings.data_dir, secret)
    except TelesipError as exc:  # the key file cannot be read
        log.error("caller accounts cannot be read: %s; %s", _one_line(exc), HOWTO)
        yield pool
        return
    runtime = CallerRuntime(pool, connect, deps=deps, backoff=backoff, sleep=sleep)
    accounts = runtime.load(store)
    runtime.start(accounts)
    runtime.watch(store, rescan)
    try:
        if not accounts:
            log.warning("no caller account is logged in: %s", HOWTO)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(startup_wait):
                await runtime.first_attempts()
        if accounts and not pool.accounts:
            log.warning(
                "none of the %d caller accounts is connected yet: calls cannot ring anyone "
                "until one is",
                len(accounts),
            )
        yield pool
    finally:
        await runtime.close()
