"""Rate limit for transfer-back passwords (R7) that lets a person type but stops guessing.

Telegram sends an inline query per keystroke, so typing a 12-character password produces eleven
wrong "guesses" before the right one. A wrong guess that only extends or shortens the previous
one by a character (typing, backspace) is free, up to ``FREE_STEPS`` per window; any other wrong
guess is a failure, and ``MAX_FAILURES`` failures in ``WINDOW`` lock the pair (user, account)
until the window ends. Guesses are compared through keyed hashes supplied by the caller, so no
guess is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
FREE_STEPS = 64


@dataclass(frozen=True)
class GuessState:
    window_start: datetime
    failures: int = 0
    free_steps: int = 0
    last_hash: bytes | None = None  # keyed hash of the last wrong guess
    last_prefix_hash: bytes | None = None  # keyed hash of that guess minus its last character
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def current(self, now: datetime) -> GuessState:
        """The state to use now: a fresh window once the previous one has passed."""
        if now - self.window_start >= WINDOW and not self.locked(now):
            return GuessState(window_start=now)
        return self

    def after_wrong(self, now: datetime, guess_hash: bytes, prefix_hash: bytes) -> GuessState:
        state = self.current(now)
        typing = state.last_hash is not None and (
            prefix_hash == state.last_hash  # one more character typed
            or guess_hash == state.last_prefix_hash  # one character deleted
            or guess_hash == state.last_hash  # the same query again
        )
        if typing and state.free_steps < FREE_STEPS:
            state = replace(state, free_steps=state.free_steps + 1)
        else:
            state = replace(state, failures=state.failures + 1)
        if state.failures >= MAX_FAILURES:
            state = replace(state, locked_until=state.window_start + WINDOW)
        return replace(state, last_hash=guess_hash, last_prefix_hash=prefix_hash)

    def minutes_left(self, now: datetime) -> int:
        if self.locked_until is None:
            return 0
        return max(1, int((self.locked_until - now).total_seconds() // 60) + 1)
