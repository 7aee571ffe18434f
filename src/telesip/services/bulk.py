"""Bulk use cases: settings links for many accounts, disable/enable/delete many, assign many
(an office handing out hundreds of extensions, docs/bulk.md).

One rule set: every bulk use case applies, to each account, the rule the one-account use case
applies (``accounts.set_enabled``, ``delete_account``, ``reassign``, ``links.create_link``:
owner only, R2/R5; the office plan for links and assignments, R4/R9; seats, R11; one enabled
copy of a line, R11), writes the same audit record and event per account, and runs in **one
unit of work**. All of them are **all or nothing**: every id is checked (and its row locked, in
id order) before the first change, and any refusal (a stranger's id, an assigned user's, a
line already connected, too few seats, a user who never started the bot) changes nothing. A
partial result would surprise in each case: a half-printed sheet of links, an office where some
employees got their extensions and others silently did not, a "disable 37" that disabled 30.

``actor`` is the Telegram user acting (then ``owner_id`` must be theirs) or ``None`` for the
operator (the caller checked that its key reaches ``owner_id``); in both cases every account must
belong to ``owner_id``: a foreign id is refused as the one-account use case refuses it (not
found for a stranger's, ``assigned_user`` for one assigned to the actor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Literal

from telesip.domain import errors, events
from telesip.domain.model import Account, Payer, RegState, TelegramUser
from telesip.domain.readmodels import AccountSummary
from telesip.importing.assignments import parse_assignments
from telesip.services import links
from telesip.services.common import ensure_user, entitlements, require_assign
from telesip.services.dependencies import Dependencies
from telesip.store.uow import UnitOfWork

#: accounts one bulk request may name (an office PBX of a few thousand extensions)
MAX_BULK = 5000

#: the sets the bot offers (it cannot tick 200 boxes): what each selects of an owner's accounts
Group = Literal["unassigned", "enabled", "disabled", "unused"]


@dataclass(frozen=True)
class IssuedLink:
    """A settings link made for one account: what a printed card and the CSV show."""

    account_id: int
    login: str
    domain: str
    display_name: str | None
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class BulkResult:
    """What a bulk change did: ``changed`` accounts, and those already as asked (``unchanged``:
    already disabled, already assigned to that user)."""

    changed: tuple[int, ...]
    unchanged: tuple[int, ...] = ()


def digest(ids: Iterable[int]) -> str:
    """A short fingerprint of a set of ids: a confirmation names the set it was shown for, so
    a press after the set changed is asked again instead of acting on other accounts."""
    blob = ",".join(str(i) for i in sorted(set(ids))).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _check_ids(ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise errors.InvalidInput("Select at least one account.")
    if len(unique) > MAX_BULK:
        raise errors.InvalidInput(f"At most {MAX_BULK} accounts at once; select fewer.")
    return unique


def _owner_of_request(actor: TelegramUser | None, owner_id: int) -> None:
    if actor is not None and actor.id != owner_id:
        raise errors.PermissionDenied("You may act only on your own accounts.")


async def _locked(uow: UnitOfWork, owner_id: int, ids: Sequence[int]) -> list[Account]:
    """The accounts, locked in id order, each checked to be ``owner_id``'s (R2, R5); in the
    order of ``ids``. The first refusal is raised before anything was written."""
    found = {a.id: a for a in await uow.accounts.lock_many(ids)}
    out: list[Account] = []
    for account_id in ids:
        account = found.get(account_id)
        if account is None:
            raise errors.AccountNotFound(account_id=account_id)
        account.require_owner(owner_id)
        out.append(account)
    return out


async def chosen(
    deps: Dependencies, actor: TelegramUser | None, owner_id: int, ids: Sequence[int]
) -> list[int]:
    """``ids`` without repeats, each checked (without a lock) to exist and be ``owner_id``'s,
    as the change will check them: a front end asks "Disable 3 accounts?" only of real ones."""
    _owner_of_request(actor, owner_id)
    unique = list(dict.fromkeys(ids))
    async with deps.uow(readonly=True) as uow:
        await _known_owner(uow, actor, owner_id)
        found = {a.id: a for a in await uow.accounts.many(unique)}
    for account_id in unique:
        if account_id not in found:
            raise errors.AccountNotFound(account_id=account_id)
        found[account_id].require_owner(owner_id)
    return unique


async def _known_owner(uow: UnitOfWork, actor: TelegramUser | None, owner_id: int) -> None:
    """An operator (no ``actor``) naming an owner this service does not know gets
    ``UserNotFound``, not an empty selection."""
    if actor is None and await uow.users.get(owner_id) is None:
        raise errors.UserNotFound(user_id=owner_id)


async def group(
    deps: Dependencies, actor: TelegramUser | None, owner_id: int, which: Group
) -> list[AccountSummary]:
    """The owner's accounts in one of the bot's sets, in id order: ``unassigned`` (enabled, held
    by nobody but the owner: the ones to hand out), ``enabled``, ``disabled``, ``unused``
    (R11, as ``accounts.unused``). Links-section accounts count too (their links are theirs).
    An owner the service does not know is ``UserNotFound`` (for the operator)."""
    _owner_of_request(actor, owner_id)
    async with deps.uow(readonly=True) as uow:
        await _known_owner(uow, actor, owner_id)
        if which == "unused":
            since = uow.now - timedelta(days=deps.rules.unused_days)
            return await uow.accounts.unused(since, owner_ids=[owner_id], limit=MAX_BULK)
        owned = await uow.accounts.owned_by(owner_id, via_link=None)
    if which == "unassigned":
        picked = [a for a in owned if a.enabled and not a.assigned]
    else:
        picked = [a for a in owned if a.enabled == (which == "enabled")]
    return sorted(picked, key=lambda a: a.id)[:MAX_BULK]


async def create_links(
    deps: Dependencies, actor: TelegramUser | None, owner_id: int, ids: Sequence[int]
) -> list[IssuedLink]:
    """R9 for many accounts: a new settings link for each (replacing its unused one, as
    ``links.create_link`` does), in the order of ``ids``; the accounts move to the links
    section. Needs the office plan. All or nothing."""
    _owner_of_request(actor, owner_id)
    ids = _check_ids(ids)
    async with deps.uow() as uow:
        if actor is not None:
            await ensure_user(deps, uow, actor)
        found = await _locked(uow, owner_id, ids)
        await require_assign(uow, owner_id)
        made: list[IssuedLink] = []
        for account in found:
            link = await links.issue(deps, uow, account, owner_id, _actor_id(actor), bulk=True)
            s = account.settings
            made.append(
                IssuedLink(
                    account.id, s.login, s.domain, s.display_name, link.token, link.expires_at
                )
            )
        await uow.commit()
    return made


def _actor_id(actor: TelegramUser | None) -> int | None:
    return actor.id if actor else None


async def set_enabled(
    deps: Dependencies,
    actor: TelegramUser | None,
    owner_id: int,
    ids: Sequence[int],
    enabled: bool,
) -> BulkResult:
    """Disable (unregister) or enable many accounts (R2). Enabling is refused as a whole when
    one of them is a copy of a line another enabled account connects (R11), or two of them
    connect the same line. Accounts already so are left as they are."""
    _owner_of_request(actor, owner_id)
    ids = _check_ids(ids)
    async with deps.uow() as uow:
        found = await _locked(uow, owner_id, ids)
        todo = [a for a in found if a.enabled != enabled]
        if enabled:
            lines: set[str] = set()
            for account in todo:
                identity = account.settings.identity
                other = await uow.accounts.enabled_copy(identity, other_than=account.id)
                if other is not None or identity in lines:
                    sip = f"{account.settings.login}@{account.settings.domain}"
                    raise errors.LineConnected(sip=sip)
                lines.add(identity)
        for account in todo:
            values: dict[str, object]
            event: events.Event
            if enabled:
                values = {"enabled": True, "reg_error": None}
                event = events.AccountEnabled(account.id, _actor_id(actor))
            else:
                values = {
                    "enabled": False,
                    "reg_state": RegState.DISABLED.value,
                    "reg_code": None,
                    "reg_error": None,
                }
                event = events.AccountDisabled(
                    account.id, _actor_id(actor), user_id=account.user_id
                )
            line = f"{account.settings.login}@{account.settings.domain}"
            await uow.accounts.update(account.id, uow.now, line=line, **values)
            action = "enabled" if enabled else "disabled"
            await uow.record(action, account.id, _actor_id(actor), {"bulk": True}, event)
        await uow.commit()
    changed = {a.id for a in todo}
    return BulkResult(
        tuple(i for i in ids if i in changed), tuple(i for i in ids if i not in changed)
    )


async def delete(
    deps: Dependencies, actor: TelegramUser | None, owner_id: int, ids: Sequence[int]
) -> BulkResult:
    """R10 for many accounts: each is removed everywhere (unregistered, password wiped, offers
    and links gone), its assigned user told. Owner only: an assigned user hands accounts back
    one at a time (``accounts.delete_account``)."""
    _owner_of_request(actor, owner_id)
    ids = _check_ids(ids)
    async with deps.uow() as uow:
        found = await _locked(uow, owner_id, ids)
        for account in found:
            await uow.accounts.delete(account.id)
            await uow.record(
                "deleted",
                account.id,
                _actor_id(actor),
                {
                    "login": account.settings.login,
                    "domain": account.settings.domain,
                    "owner_id": account.owner_id,
                    "bulk": True,
                },
                events.AccountDeleted(
                    account.id, _actor_id(actor), owner_id=account.owner_id, user_id=account.user_id
                ),
            )
        await uow.commit()
    return BulkResult(tuple(ids))


@dataclass(frozen=True)
class Assignment:
    """One row of a bulk assignment: an account (by id, already resolved) and a Telegram user
    (a numeric id or an ``@username``, as typed); ``line`` is its line in the file."""

    line: int
    account_id: int
    user: int | str


async def assign(
    deps: Dependencies,
    actor: TelegramUser | None,
    owner_id: int,
    rows: Sequence[Assignment],
) -> BulkResult:
    """R4 for many accounts: each row's account is assigned to its Telegram user, who must
    have started the bot (else nothing is assigned: ``BadAssignments`` names the line). Needs
    the office plan; accounts paid per account move to seats, all of them counted before the
    first change (too few: ``SeatsExhausted``, nothing assigned). An account already assigned
    to that user is left as it is; one assigned to someone else is reassigned (R2)."""
    _owner_of_request(actor, owner_id)
    if not rows:
        raise errors.BadAssignments("empty")
    if len(rows) > MAX_BULK:
        raise errors.BadAssignments("too_many", limit=MAX_BULK)
    seen: dict[int, int] = {}
    for row in rows:
        if row.account_id in seen:
            raise errors.BadAssignments("repeated", line=row.line, value=f"#{row.account_id}")
        seen[row.account_id] = row.line
    async with deps.uow() as uow:
        await _known_owner(uow, actor, owner_id)
        ids = {u for u in (r.user for r in rows) if isinstance(u, int)}
        names = {u.lower() for u in (r.user for r in rows) if isinstance(u, str)}
        known = await uow.users.known(ids, names)
        for row in rows:
            key = row.user.lower() if isinstance(row.user, str) else row.user
            if key not in known:
                raise errors.BadAssignments("unknown_user", line=row.line, value=str(row.user))
        try:
            found = {a.id: a for a in await _locked(uow, owner_id, [r.account_id for r in rows])}
        except (errors.NotFound, errors.PermissionDenied) as exc:
            bad = int(exc.params.get("account_id") or 0)
            line = seen.get(bad, 0)
            raise errors.BadAssignments("unknown_account", line=line, value=f"#{bad}") from None
        ent = await entitlements(uow, owner_id)  # the owner's row locked: seats are counted
        ent.require_assign()
        todo: list[tuple[Account, int]] = []
        for row in rows:
            account = found[row.account_id]
            user_id = known[row.user.lower() if isinstance(row.user, str) else row.user]
            if account.user_id != user_id:
                todo.append((account, user_id))
        needed = sum(1 for a, _ in todo if a.payer is Payer.START)
        if needed and ent.seat_limit is not None and ent.seats_used + needed > ent.seat_limit:
            raise errors.SeatsExhausted(limit=ent.seat_limit)
        for account, user_id in todo:
            payer = Payer.OWNER_PLAN if account.payer is Payer.START else account.payer
            await uow.accounts.update(account.id, uow.now, user_id=user_id, payer=payer.value)
            await uow.record(
                "reassigned",
                account.id,
                _actor_id(actor),
                {"user_id": user_id, "previous_user_id": account.user_id, "bulk": True},
                events.UserAssigned(
                    account.id,
                    _actor_id(actor),
                    owner_id=account.owner_id,
                    user_id=user_id,
                    previous_user_id=account.user_id,
                ),
            )
        await uow.commit()
    changed = {a.id for a, _ in todo}
    order = [r.account_id for r in rows]
    return BulkResult(
        tuple(i for i in order if i in changed), tuple(i for i in order if i not in changed)
    )


async def assign_file(
    deps: Dependencies, actor: TelegramUser | None, owner_id: int, stream: BinaryIO
) -> BulkResult:
    """``assign`` from a file of (account, Telegram user) rows (``importing.parse_assignments``):
    an account named by its login is looked up among the owner's accounts (a login two of them
    share must be given as #id). Any bad line refuses the whole file."""
    _owner_of_request(actor, owner_id)
    parsed = parse_assignments(stream)
    by_login: dict[str, list[int]] = {}
    if any(isinstance(r.account, str) for r in parsed):
        async with deps.uow(readonly=True) as uow:
            for a in await uow.accounts.owned_by(owner_id, via_link=None):
                by_login.setdefault(a.login.lower(), []).append(a.id)
    rows: list[Assignment] = []
    for r in parsed:
        if isinstance(r.account, int):
            account_id = r.account
        else:
            matches = by_login.get(r.account.lower(), [])
            if len(matches) != 1:
                reason = "ambiguous_account" if matches else "unknown_account"
                raise errors.BadAssignments(reason, line=r.line, value=r.account[:64])
            account_id = matches[0]
        rows.append(Assignment(r.line, account_id, r.user))
    return await assign(deps, actor, owner_id, rows)
