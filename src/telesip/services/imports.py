"""Importing SIP accounts from a file (issue 19, docs/import.md): the use case behind
``telesip accounts import``, ``POST /api/v1/accounts/import`` and the bot's document upload.

The pure package ``telesip.importing`` reads the file and plans; this module reads what exists
and writes the plan, in ONE unit of work: the owner's accounts with the file's identities (their
rows locked) and other owners' (R11: reported as taken, never duplicated), the plan, the seats
for the WHOLE import checked before anything is written (``SeatsMissing`` names how many are
missing: all or nothing), then new accounts created, changed ones updated (only the fields the
file states; a changed password is audited as a field name, never its value), identical ones
skipped. Re-importing the same file changes nothing.

Invariants: the file is parsed before the transaction (a large file never holds the write
lock while it is read); the password fingerprint is a keyed MAC of the password alone (the
service's key, not the account), so the same password compares equal everywhere and tells
nothing to whoever sees it; no password, fingerprint or file content is logged, audited or put
in an error. A row's ``telegram`` user is assigned the new account when that user has started
the bot; otherwise the row is reported as not assignable yet (the account is still imported).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, BinaryIO

from telesip import importing
from telesip.domain import errors, events
from telesip.domain.model import Account, Payer, TelegramUser
from telesip.domain.plans import Entitlements
from telesip.domain.settings import Secret
from telesip.importing import (
    Action,
    ExistingAccount,
    ImportPlan,
    Issue,
    Limits,
    ServerDefaults,
)
from telesip.services import templates as templates_svc
from telesip.services.accounts import SIP_FIELDS
from telesip.services.common import ensure_user, entitlements
from telesip.services.dependencies import Dependencies
from telesip.store.repositories.imports import PendingImport
from telesip.store.uow import UnitOfWork


@dataclass(frozen=True)
class Unassigned:
    """A row whose Telegram user has not started the bot: imported, but not assigned yet."""

    line: int
    login: str
    telegram: int | str


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did (or, ``applied=False``, would do): the plan with its per-line issues
    and ``summary()``, the seats free before it, and the accounts written."""

    plan: ImportPlan
    applied: bool
    free_seats: int | None  # None: unlimited
    missing_seats: int
    created: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    assigned: int = 0  # new accounts given to their row's Telegram user
    unassigned: tuple[Unassigned, ...] = ()

    def summary(self) -> str:
        """The plan's English one-liner, with the seats missing and users not known yet."""
        text = self.plan.summary()
        if self.plan.refused:
            return text
        if self.missing_seats:
            text += f"; {self.missing_seats} seats missing"
        if self.unassigned:
            text += f"; {len(self.unassigned)} Telegram users not known yet (not assigned)"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` and the API: counts, seats, and the per-line issues and
        notes (code, line, params, English message), never a password."""
        c = self.plan.counts
        return {
            "format": self.plan.format,
            "refused": self.plan.refused,
            "applied": self.applied,
            "summary": self.summary(),
            "counts": {
                "new": c.new,
                "changed": c.changed,
                "identical": c.identical,
                "taken": c.taken,
                "errors": c.errors,
            },
            "seats": {
                "needed": self.plan.seats_needed,
                "free": self.free_seats,
                "missing": self.missing_seats,
            },
            "created": list(self.created),
            "updated": list(self.updated),
            "assigned": self.assigned,
            "unassigned": [
                {"line": u.line, "login": u.login, "telegram": str(u.telegram)}
                for u in self.unassigned
            ],
            "issues": [_issue_dict(i) for i in self.plan.issues],
            "notes": [_issue_dict(i) for i in self.plan.notes],
        }


def _issue_dict(found: Issue) -> dict[str, Any]:
    return {
        "code": found.code,
        "line": found.line,
        "params": {k: v if isinstance(v, int | float) else str(v) for k, v in found.params.items()},
        "message": found.message,
    }


def password_fingerprint(deps: Dependencies, password: Secret) -> str:
    """A keyed MAC of the password alone: equal passwords compare equal, nothing leaks."""
    return deps.cipher.mac("import-password", password.reveal()).hex()


async def server_defaults(deps: Dependencies, owner_id: int) -> dict[str, ServerDefaults]:
    """The templates a file may name: the built-in ones and the owner's own."""
    found = await templates_svc.list_templates(deps, user_id=owner_id)
    return {
        t.id: ServerDefaults(
            domain=t.domain,
            transport=t.transport,
            port=t.port,
            tls_port=t.tls_port,
            expires=t.expires,
            dtmf_mode=t.dtmf_mode,
            registrar=t.registrar,
            outbound_proxy=t.outbound_proxy,
        )
        for t in found
    }


def _free(ent: Entitlements) -> tuple[int | None, int | None]:
    """Free seats and free Softphone-Start room (None: unlimited)."""
    seats = None if ent.seat_limit is None else max(0, ent.seat_limit - ent.seats_used)
    start = None if ent.start_limit is None else max(0, ent.start_limit - ent.start_used)
    return seats, start


def _payers(count: int, seats: int | None, start: int | None) -> list[Payer]:
    """Who pays for each of ``count`` new accounts: seats first, then Softphone-Start."""
    from_seats = count if seats is None else min(count, seats)
    return [Payer.OWNER_PLAN] * from_seats + [Payer.START] * (count - from_seats)


async def import_accounts(
    deps: Dependencies,
    actor: TelegramUser | None,
    stream: BinaryIO,
    *,
    owner_id: int | None = None,
    server: str | None = None,
    filename: str | None = None,
    dry_run: bool = False,
    limits: Limits | None = None,
    pending_chat: int | None = None,
) -> ImportOutcome:
    """Import ``stream`` into the accounts of ``actor`` (a Telegram user importing their own
    accounts) or, for the operator (``actor=None``), of ``owner_id``, who must have started
    the bot. ``dry_run`` plans and checks, and writes nothing. ``limits`` default to the
    operator's (``TELESIP_IMPORT_MAX_ROWS``). ``pending_chat``: the file is that chat's pending
    import (the bot's Import press), taken in the same transaction: a second press finds it
    gone (``ImportGone``), and a refusal (missing seats) leaves it waiting. A refused file
    (``plan.refused``) is returned, not raised: its issue is the answer."""
    if actor is not None:
        owner_id = actor.id
    elif owner_id is None:
        raise errors.InvalidInput("the owner of the imported accounts is required")
    if actor is not None:  # the owner's row exists before their templates are read
        async with deps.uow() as uow:
            await ensure_user(deps, uow, actor)
            await uow.commit()
    templates = await server_defaults(deps, owner_id)
    parsed = importing.parse(
        stream,
        server_given=bool(server),
        filename=filename,
        limits=limits or Limits(max_rows=deps.rules.import_max_rows),
    )
    valid = importing.validate(parsed, server=server, templates=templates)
    async with deps.uow() as uow:
        if actor is None and await uow.users.get(owner_id) is None:
            raise errors.UserNotFound(user_id=owner_id)
        mine, others = await uow.accounts.with_identities(  # rows locked before the user's
            owner_id, [r.settings.identity for r in valid.rows]
        )
        ent = await entitlements(uow, owner_id)
        existing: list[ExistingAccount] = [
            ExistingAccount(
                a.id,
                a.settings.identity,
                password_fingerprint(deps, a.settings.password),
                a.settings.public_dict(),
            )
            for a in mine
        ]
        existing += [ExistingAccount(0, i, "", mine=False) for i in sorted(others)]
        plan = importing.plan(valid, existing, lambda p: password_fingerprint(deps, p))
        seats, start = _free(ent)
        free = None if seats is None or start is None else seats + start
        missing = 0 if free is None else plan.missing_seats(free)
        wanted = _telegram_users(plan)
        known = await uow.users.known(
            {v for v in wanted if isinstance(v, int)}, {v for v in wanted if isinstance(v, str)}
        )
        unassigned = tuple(
            Unassigned(p.line, p.row.settings.login, p.row.telegram)
            for p in plan.new
            if p.row is not None and p.row.telegram is not None and p.row.telegram not in known
        )
        outcome = ImportOutcome(plan, False, free, missing, unassigned=unassigned)
        if pending_chat is not None and not await uow.pending_imports.drop(pending_chat):
            raise errors.ImportGone()  # pressed twice, or cancelled meanwhile
        if dry_run or plan.refused or not (plan.new or plan.changed):
            if pending_chat is not None:  # nothing left to do: the press is used up
                await uow.commit()
            return outcome
        if missing:
            raise errors.SeatsMissing(needed=plan.seats_needed, free=free, missing=missing)
        assign = {
            p.line: known[p.row.telegram]
            for p in plan.new
            if p.row is not None and p.row.telegram in known and known[p.row.telegram] != owner_id
        }
        if assign:
            ent.require_assign()  # handing accounts to people needs the office plan (R4)
        # assigned accounts are paid from seats (R4): they take the seats first
        order = sorted(plan.new, key=lambda p: p.line not in assign)
        payers = _payers(len(order), seats, start)
        if any(
            p.line in assign and payer is not Payer.OWNER_PLAN
            for p, payer in zip(order, payers, strict=True)
        ):
            raise errors.SeatsMissing(needed=plan.seats_needed, free=seats or 0, missing=1)
        items = [(p.row.settings, payer) for p, payer in zip(order, payers, strict=True) if p.row]
        created = await uow.accounts.add_many(owner_id, items, uow.now)
        await uow.audit.add_many(
            [
                {
                    "at": uow.now,
                    "actor_id": owner_id,
                    "account_id": account_id,
                    "action": "created",
                    "details": {
                        "login": settings.login,
                        "domain": settings.domain,
                        "payer": payer.value,
                        "via": "import",
                    },
                }
                for account_id, (settings, payer) in zip(created, items, strict=True)
            ]
        )
        for account_id, planned in zip(created, order, strict=True):
            uow.add_event(events.AccountCreated(account_id, owner_id, owner_id=owner_id))
            user_id = assign.get(planned.line)
            if user_id is not None:
                await _assign(uow, actor, owner_id, account_id, user_id)
        current = {a.id: a for a in mine}  # read and locked above
        updated = [await _update(uow, actor, p, current) for p in plan.changed]
        await uow.record(
            "imported",
            None,
            actor.id if actor else None,
            {
                "owner_id": owner_id,
                "format": plan.format,
                "new": len(created),
                "changed": len(updated),
                "identical": plan.counts.identical,
                "taken": plan.counts.taken,
                "errors": plan.counts.errors,
            },
        )
        await uow.commit()
    return ImportOutcome(
        plan,
        True,
        free,
        0,
        tuple(sorted(created)),
        tuple(updated),
        len(assign),
        unassigned,
    )


# -- the bot: a file sent as a document waits for its Import press ------------------------------

#: how long a previewed file waits for Import
PENDING_TTL = timedelta(minutes=30)


async def stage_import(
    deps: Dependencies,
    actor: TelegramUser,
    chat_id: int,
    content: bytes,
    *,
    filename: str | None = None,
    server: str | None = None,
) -> ImportOutcome:
    """Preview ``content`` (a dry run) and keep it, encrypted, as the chat's pending import
    when there is something to write; a new file replaces the chat's earlier one."""
    outcome = await import_accounts(
        deps, actor, io.BytesIO(content), server=server, filename=filename, dry_run=True
    )
    waiting = not outcome.plan.refused and bool(outcome.plan.new or outcome.plan.changed)
    async with deps.uow() as uow:
        await uow.pending_imports.drop_expired(uow.now)
        if waiting:
            pending = PendingImport(chat_id, actor.id, filename, server, content)
            await uow.pending_imports.put(pending, uow.now, uow.now + PENDING_TTL)
        else:
            await uow.pending_imports.drop(chat_id)
        await uow.commit()
    return outcome


async def confirm_import(deps: Dependencies, actor: TelegramUser, chat_id: int) -> ImportOutcome:
    """The Import press: write the chat's pending file (planned afresh against what exists
    now), once. ``ImportGone`` when there is none, it expired, or another person sent it."""
    async with deps.uow(readonly=True) as uow:
        pending = await uow.pending_imports.get(chat_id)
        now = uow.now
    if (
        pending is None
        or pending.user_id != actor.id
        or (pending.expires_at is not None and pending.expires_at <= now)
    ):
        raise errors.ImportGone()
    return await import_accounts(
        deps,
        actor,
        io.BytesIO(pending.content),
        server=pending.server,
        filename=pending.filename,
        pending_chat=chat_id,
    )


async def cancel_import(deps: Dependencies, chat_id: int) -> bool:
    """The Cancel press: forget the chat's pending file (True when there was one)."""
    async with deps.uow() as uow:
        dropped = await uow.pending_imports.drop(chat_id)
        await uow.commit()
    return dropped


def _telegram_users(plan: ImportPlan) -> set[int | str]:
    return {p.row.telegram for p in plan.new if p.row is not None and p.row.telegram is not None}


async def _assign(
    uow: UnitOfWork, actor: TelegramUser | None, owner_id: int, account_id: int, user_id: int
) -> None:
    await uow.accounts.update(account_id, uow.now, user_id=user_id)
    actor_id = actor.id if actor else None
    await uow.record(
        "reassigned",
        account_id,
        actor_id,
        {"user_id": user_id, "previous_user_id": owner_id, "via": "import"},
        events.UserAssigned(
            account_id, actor_id, owner_id=owner_id, user_id=user_id, previous_user_id=owner_id
        ),
    )


async def _update(
    uow: UnitOfWork,
    actor: TelegramUser | None,
    planned: importing.PlannedRow,
    current: dict[int, Account],
) -> int:
    """Write the fields ``planned.changes`` names (the password among them, never audited)."""
    assert planned.row is not None and planned.account_id is not None
    account_id = planned.account_id
    account = current[account_id]
    new_values = {name: getattr(planned.row.settings, name) for name in planned.changes}
    new = replace(account.settings, **new_values).validated()
    sip_changed = bool(SIP_FIELDS.intersection(planned.changes))
    await uow.accounts.update_settings(account_id, new, uow.now, bump=sip_changed)
    actor_id = actor.id if actor else None
    await uow.record(
        "settings_changed",
        account_id,
        actor_id,
        {"fields": sorted(planned.changes), "via": "import"},
        events.SettingsChanged(
            account_id, actor_id, user_id=account.user_id, registration_changed=sip_changed
        ),
    )
    return account_id


__all__ = [
    "PENDING_TTL",
    "Action",
    "ImportOutcome",
    "Unassigned",
    "cancel_import",
    "confirm_import",
    "import_accounts",
    "password_fingerprint",
    "server_defaults",
    "stage_import",
]
