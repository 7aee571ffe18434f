"""``CallerPool``: which caller account places the next Telegram call.

One call at a time per caller account (a Telegram account in a call is busy to everyone else).
A person is called by the account that called them last when it is free, so the account they
allowed in their privacy settings keeps calling them; otherwise by the account idle longest.
Everything runs in one event loop: no locks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from telesip.calls.telegram.adapter import TelegramCalls
from telesip.calls.telegram.errors import NoFreeCaller


class CallerPool:
    def __init__(self, accounts: list[TelegramCalls] | None = None) -> None:
        self._accounts: dict[int, TelegramCalls] = {}
        self._busy: set[int] = set()
        self._last_used: dict[int, int] = {}  # account id -> tick of its last release
        self._last_caller: dict[int, int] = {}  # person -> account that called them last
        self._tick = itertools.count(1)
        for account in accounts or []:
            self.add(account)

    def add(self, account: TelegramCalls) -> None:
        self._accounts[account.me.id] = account
        self._last_used.setdefault(account.me.id, 0)

    def remove(self, account_id: int) -> None:
        """Takes an account out (a call it is in keeps it until released)."""
        self._accounts.pop(account_id, None)
        self._last_used.pop(account_id, None)

    @property
    def accounts(self) -> list[TelegramCalls]:
        return list(self._accounts.values())

    @property
    def free(self) -> int:
        return sum(1 for a in self._accounts if a not in self._busy)

    def caller_for(self, user_id: int) -> TelegramCalls | None:
        """The account that would call ``user_id`` now (for the bot's "who will call you")."""
        free = [a for a in self._accounts if a not in self._busy]
        if not free:
            return None
        preferred = self._last_caller.get(user_id)
        if preferred in free:
            return self._accounts[preferred]
        return self._accounts[min(free, key=lambda a: self._last_used[a])]

    def acquire(self, user_id: int) -> TelegramCalls:
        """A free account, now busy until ``release``; ``NoFreeCaller`` when there is none."""
        account = self.caller_for(user_id)
        if account is None:
            if not self._accounts:
                raise NoFreeCaller(
                    reason="no caller account is logged in (run `telesip telegram login`)"
                )
            raise NoFreeCaller(reason=f"all {len(self._accounts)} caller account(s) are in calls")
        self._busy.add(account.me.id)
        self._last_caller[user_id] = account.me.id
        return account

    def release(self, account: TelegramCalls) -> None:
        self._busy.discard(account.me.id)
        if account.me.id in self._last_used:
            self._last_used[account.me.id] = next(self._tick)

    @contextmanager
    def take(self, user_id: int) -> Iterator[TelegramCalls]:
        """``with pool.take(user_id) as calls:`` — released however the block ends."""
        account = self.acquire(user_id)
        try:
            yield account
        finally:
            self.release(account)
