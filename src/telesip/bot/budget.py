"""How much of Telegram's pace is left, for the limiter (bot/limiter.py): token buckets (the
overall one, each chat's for new messages and for edits) and each chat's count of calls
deferred to the outbox and not made yet (later calls to the chat queue behind them).

``MemoryBudget`` keeps them in the process: one bot process. ``RedisBudget`` keeps them in
Redis (TELESIP_REDIS_URL), so several bot processes behind one webhook share Telegram's
per-chat and overall limits: one Lua script call per paced Bot API call (atomic, on Redis's
clock, so the processes' clocks do not matter). Its keys expire once a bucket would be full
again, so idle chats cost nothing; a deferred count expires ``DEFERRED_TTL_S`` after its last
change (a process that died between deferring and sending cannot hold a chat back forever).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from telesip.services.pacing import shared_scripts

log = logging.getLogger(__name__)

SEND = "send"
EDIT = "edit"

#: A chat's deferred count is forgotten this long after its last change.
DEFERRED_TTL_S = 600
#: The outbox's sender keeps its turn this long after its last round.
SENDER_TTL_S = 10.0


@dataclass(frozen=True)
class Pace:
    """Telegram's limits as the limiter applies them (calls per second and bursts)."""

    overall_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_chat_burst: float = 6.0
    edit_per_second: float = 5.0
    edit_burst: float = 20.0

    def of(self, kind: str) -> tuple[float, float]:
        """The chat bucket's rate and burst for ``kind``."""
        if kind == SEND:
            return self.per_chat_per_second, self.per_chat_burst
        return self.edit_per_second, self.edit_burst


class Budget(Protocol):
    async def take(self, chat: int | None, kind: str) -> tuple[float, bool]:
        """Take one call's tokens (the overall bucket's and, with a chat, its ``kind`` bucket's):
        how long the call must wait (0: at once) and whether the chat has deferred calls."""

    async def give_back(self, chat: int | None, kind: str) -> None:
        """Return what ``take`` took (the call was deferred: the outbox takes them again)."""

    async def hold(self, chat: int, kind: str, seconds: float) -> None:
        """Telegram said wait: the chat's next token comes ``seconds`` from now at the earliest."""

    async def deferred(self, chat: int, change: int) -> None:
        """A call to the chat was deferred (+1) or made by the outbox (-1)."""

    async def sender(self, holder: str, seconds: float = SENDER_TTL_S) -> bool:
        """Whether ``holder`` (a bot process's outbox) sends the outbox now: one process at a
        time, each round renewing its turn for ``seconds``; a silent holder's turn lapses."""


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take a token; return how long to wait before the call may go (0: at once)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def hold(self, now: float, seconds: float) -> None:
        """Telegram said wait: the next token comes ``seconds`` from now at the earliest."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens = min(self.tokens, 1 - seconds * self.rate)

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class ChatBuckets:
    """One bucket per chat, made full on first use; full ones are forgotten when many."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.buckets: dict[Any, Bucket] = {}

    def get(self, chat: Any, now: float) -> Bucket:
        bucket = self.buckets.get(chat)
        if bucket is None:
            if len(self.buckets) > 10_000:
                self.buckets = {k: b for k, b in self.buckets.items() if not b.full(now)}
            bucket = self.buckets[chat] = Bucket(self.rate, self.burst, self.burst, now)
        return bucket


class MemoryBudget:
    """The budget of one bot process, in its memory."""

    def __init__(self, pace: Pace) -> None:
        now = time.monotonic()
        rate = pace.overall_per_second
        self.overall = Bucket(rate, rate, rate, now)
        self.chats = {kind: ChatBuckets(*pace.of(kind)) for kind in (SEND, EDIT)}
        self._deferred: Counter[int] = Counter()

    def delay(self, chat: int | None, kind: str = SEND) -> float:
        """``take``'s wait, at once."""
        now = time.monotonic()
        wait = self.overall.take(now)
        if chat is not None:
            wait = max(wait, self.chats[kind].get(chat, now).take(now))
        return wait

    async def take(self, chat: int | None, kind: str) -> tuple[float, bool]:
        return self.delay(chat, kind), chat is not None and self._deferred[chat] > 0

    async def give_back(self, chat: int | None, kind: str) -> None:
        self.overall.tokens += 1
        if chat is not None:
            self.chats[kind].buckets[chat].tokens += 1

    async def hold(self, chat: int, kind: str, seconds: float) -> None:
        now = time.monotonic()
        self.chats[kind].get(chat, now).hold(now, seconds)

    async def deferred(self, chat: int, change: int) -> None:
        self._deferred[chat] += change
        if self._deferred[chat] <= 0:
            del self._deferred[chat]

    async def sender(self, holder: str, seconds: float = SENDER_TTL_S) -> bool:
        return True  # the only process


# KEYS: 1 the overall bucket, 2 the chat's bucket, 3 the chat's deferred count.
# ARGV: 1 what to do, 2-3 the overall rate and burst, 4-5 the chat bucket's, 6 whether there is
# a chat, 7 seconds (hold) or change (deferred), 8 DEFERRED_TTL_S. A bucket is a hash: tokens
# and stamp (Redis's TIME).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local op, has_chat = ARGV[1], ARGV[6] == '1'
local function level(key, rate, burst)
  local v = redis.call('HMGET', key, 'tokens', 'stamp')
  if not v[1] then return burst end
  return math.min(burst, tonumber(v[1]) + (now - tonumber(v[2])) * rate)
end
local function keep(key, tokens, rate, burst)
  redis.call('HSET', key, 'tokens', tostring(tokens), 'stamp', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(((burst - tokens) / rate + 1) * 1000))
end
local function change(key, rate, burst, by)
  local tokens = level(key, tonumber(rate), tonumber(burst)) + by
  keep(key, tokens, tonumber(rate), tonumber(burst))
  if tokens >= 0 then return 0 end
  return -tokens / tonumber(rate)
end
if op == 'take' then
  local wait = change(KEYS[1], ARGV[2], ARGV[3], -1)
  local pending = 0
  if has_chat then
    wait = math.max(wait, change(KEYS[2], ARGV[4], ARGV[5], -1))
    pending = tonumber(redis.call('GET', KEYS[3]) or '0')
  end
  return {tostring(wait), pending}
elseif op == 'give' then
  change(KEYS[1], ARGV[2], ARGV[3], 1)
  if has_chat then change(KEYS[2], ARGV[4], ARGV[5], 1) end
elseif op == 'hold' then
  local rate, burst = tonumber(ARGV[4]), tonumber(ARGV[5])
  keep(KEYS[2], math.min(level(KEYS[2], rate, burst), 1 - tonumber(ARGV[7]) * rate), rate, burst)
elseif op == 'deferred' then
  if redis.call('INCRBY', KEYS[3], ARGV[7]) <= 0 then
    redis.call('DEL', KEYS[3])
  else
    redis.call('EXPIRE', KEYS[3], ARGV[8])
  end
end
return {'0', 0}
"""


_SENDER = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class Scripts(Protocol):
    """Lua scripts run where every bot process sees them (store/redis_scripts.py: Redis)."""

    last_error: BaseException | None

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any | None:
        """The script's answer, or None while the store does not answer."""

    async def close(self) -> None: ...


class RedisBudget:
    """The budget shared by the bot processes of one bot (``prefix``) through Redis. While Redis
    does not answer, each process paces with a budget of its own (``local``: the bot goes on
    talking, each process within Telegram's limits on its own) and no process sends the outbox
    (its messages wait, in order, none sent twice)."""

    def __init__(self, scripts: Scripts, pace: Pace, prefix: str) -> None:
        self.scripts = scripts
        self.pace = pace
        self.prefix = prefix
        self.local = MemoryBudget(pace)
        self.away = False  # Redis did not answer the last call

    @classmethod
    def from_url(cls, url: str, pace: Pace, prefix: str) -> RedisBudget:
        return cls(shared_scripts(url), pace, prefix)

    async def _call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """The script's answer, or None while Redis does not answer."""
        answer = await self.scripts.run(script, keys, args)
        if answer is None:
            if not self.away:
                log.warning(
                    "pacing budget: Redis does not answer (%s); pacing per process",
                    self.scripts.last_error,
                )
            self.away = True
            return None
        if self.away:
            log.info("pacing budget: Redis answers again")
            self.away = False
        return answer

    async def _run(self, op: str, chat: int | None, kind: str, arg: float = 0) -> Any:
        p = self.prefix
        keys = [f"{p}:all", f"{p}:{kind}:{chat}", f"{p}:deferred:{chat}"]
        rate, burst = self.pace.of(kind)
        overall = self.pace.overall_per_second
        has_chat = "0" if chat is None else "1"
        args = [op, overall, overall, rate, burst, has_chat, arg, DEFERRED_TTL_S]
        return await self._call(_SCRIPT, keys, args)

    async def take(self, chat: int | None, kind: str) -> tuple[float, bool]:
        answer = await self._run("take", chat, kind)
        if answer is None:
            return await self.local.take(chat, kind)
        wait, pending = answer
        return float(wait), int(pending) > 0

    async def give_back(self, chat: int | None, kind: str) -> None:
        if await self._run("give", chat, kind) is None and chat in self.local.chats[kind].buckets:
            await self.local.give_back(chat, kind)

    async def hold(self, chat: int, kind: str, seconds: float) -> None:
        if await self._run("hold", chat, kind, seconds) is None:
            await self.local.hold(chat, kind, seconds)

    async def deferred(self, chat: int, change: int) -> None:
        if await self._run("deferred", chat, SEND, change) is None:
            await self.local.deferred(chat, change)

    async def sender(self, holder: str, seconds: float = SENDER_TTL_S) -> bool:
        keys = [f"{self.prefix}:outbox-sender"]
        return bool(await self._call(_SENDER, keys, [holder, int(seconds * 1000)]))

    async def close(self) -> None:
        await self.scripts.close()
