"""Account use cases: create, settings, disable/enable, delete (R10), take back and reassign
(R2), operator payment (R11), registration reports from workers, and the /softphone listing (R1).

Each function is one transaction with one audit record. ``actor`` is the Telegram user acting;
``None`` means the operator (CLI or an API key), for whom permission checks are the caller's.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telesip.domain import errors, events
from telesip.domain.model import (
    Account,
    Offer,
    Payer,
    RegistrationReport,
    RegState,
    Role,
    TelegramUser,
)
from telesip.domain.readmodels import AccountSummary
from telesip.domain.settings import AccountSettings
from telesip.services.common import (
    add_account,
    ensure_user,
    entitlements,
    load_account,
    require_line_free,
)
from telesip.services.dependencies import Dependencies
from telesip.services.registrations import report_many

#: fields whose change needs a new registration
SIP_FIELDS = frozenset(
    {
        "login",
        "password",
        "domain",
        "auth_username",
        "registrar",
        "outbound_proxy",
        "transport",
        "port",
        "expires",
        "worker",
    }
)


def _actor_id(actor: TelegramUser | None) -> int | None:
    return actor.id if actor else None


async def create_account(
    deps: Dependencies, actor: TelegramUser, settings: AccountSettings, *, via_link: bool = False
) -> int:
    """Connect a new SIP account owned (and used) by ``actor``; returns its numeric ID."""
    settings = settings.validated()
    async with deps.uow() as uow:
        await ensure_user(deps, uow, actor)
        payer = (await entitlements(uow, actor.id)).payer_for_new_account()
        account_id = await add_account(uow, actor.id, settings, payer, via_link)
        await uow.commit()
    return account_id


async def check_room(deps: Dependencies, actor: TelegramUser, *, for_link: bool = False) -> None:
    """Refuse a new account before its settings are typed, by the rule ``create_account``
    (or, ``for_link``, ``links.create_link_from_settings``) applies when it is made: no free
    seat (and no Softphone-Start room) raises ``SeatsExhausted``, a link without the office
    plan ``MethodNotAllowed``. Nothing is reserved: the rule is checked again on creation."""
    async with deps.uow() as uow:
        await ensure_user(deps, uow, actor)
        ent = await entitlements(uow, actor.id, lock=False)
        await uow.commit()
    if for_link:
        ent.require_assign()
        if not ent.seat_free:
            raise errors.SeatsExhausted(limit=ent.seat_limit)
    else:
        ent.payer_for_new_account()


@dataclass(frozen=True)
class Card:
    """What a person may see of one account: the settings only for its owner (R5)."""

    summary: AccountSummary
    role: Role
    settings: dict[str, Any] | None
    pending_offer: Offer | None
    firewall: list[str] = field(default_factory=list)  # worker addresses to allow at the PBX
    recording: bool = False  # its calls are recorded: the user is told too
    etag: str | None = None  # of the settings (owner reads), for If-Match on a change


async def get_card(
    deps: Dependencies, actor: TelegramUser | None, account_id: int, *, settings: bool = True
) -> Card:
    """The account's card as ``actor`` may see it (AccountNotFound for anyone else). With
    ``settings=False`` (the bot's card, read on every press) an owner's card comes without the
    settings and their ETag: the password is not decrypted and no MAC is computed."""
    async with deps.uow(readonly=True) as uow:  # one statement (the bot reads it on every press)
        live_after = uow.now - timedelta(seconds=deps.rules.lease_ttl_seconds)
        read = await uow.accounts.card(account_id, live_after)
    if read is None:
        raise errors.AccountNotFound(account_id=account_id)
    summary = read.summary
    if actor is None or actor.id == summary.owner_id:
        role = Role.OWNER
    elif actor.id == summary.user_id:
        role = Role.USER
    else:
        raise errors.AccountNotFound(account_id=account_id)
    recording = read.recording
    if role is not Role.OWNER:
        return Card(summary, role, None, None, [], recording)
    pending = read.pending if read.pending is not None and read.pending.is_live(uow.now) else None
    if not settings:
        return Card(summary, role, None, pending, read.firewall, recording)
    current = read.account().settings
    etag = settings_etag(deps, account_id, current)
    return Card(summary, role, current.public_dict(), pending, read.firewall, recording, etag=etag)


def settings_etag(deps: Dependencies, account_id: int, settings: AccountSettings) -> str:
    """An HTTP entity tag of the account's settings, the password included: a keyed MAC (the
    service's key), so the tag tells nothing about the password to whoever reads it."""
    blob = json.dumps(settings.public_dict(), sort_keys=True, default=str)
    mac = deps.cipher.mac("settings", account_id, blob, settings.password.reveal())
    return '"' + base64.urlsafe_b64encode(mac[:12]).decode() + '"'


def _matches(if_match: str, etag: str) -> bool:
    """``If-Match`` (RFC 9110 13.1.1): ``*`` or a list of strong tags, one of them current."""
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag in tags


async def update_settings(
    deps: Dependencies,
    actor: TelegramUser | None,
    account_id: int,
    *,
    if_match: str | None = None,
    **changes: Any,
) -> AccountSettings:
    """R2: the owner changes settings at any time; the user gets no say (R5). With
    ``if_match`` (an ETag from ``get_card``) the change is made only if the settings are still
    those, checked under the account's lock: two editors never overwrite each other silently."""
    unknown = set(changes) - {f.name for f in dataclasses.fields(AccountSettings)}
    if unknown:
        raise errors.InvalidInput(f"unknown settings: {', '.join(sorted(unknown))}")
    return await _change_settings(deps, actor, account_id, lambda _: changes, if_match=if_match)


Rule = tuple[str, str]


async def edit_rewrite_rules(
    deps: Dependencies,
    actor: TelegramUser | None,
    account_id: int,
    *,
    add: Rule | None = None,
    remove: Rule | None = None,
) -> AccountSettings:
    """Append the number-rewrite rule ``add`` and/or drop ``remove`` (a rule as it was shown;
    one already gone changes nothing), in one transaction, as ``update_settings`` does."""

    def change(current: AccountSettings) -> dict[str, Any]:
        rules = list(current.rewrite_rules)
        if remove is not None and remove in rules:
            rules.remove(remove)
        if add is not None:
            rules.append(add)
        return {"rewrite_rules": tuple(rules)}

    return await _change_settings(deps, actor, account_id, change)


async def _change_settings(
    deps: Dependencies,
    actor: TelegramUser | None,
    account_id: int,
    change: Callable[[AccountSettings], dict[str, Any]],
    *,
    if_match: str | None = None,
) -> AccountSettings:
    async with deps.uow() as uow:
        account = await load_account(uow, account_id)
        if actor is not None:
            account.require_owner(actor.id)
        if if_match is not None and not _matches(
            if_match, settings_etag(deps, account_id, account.settings)
        ):
            raise errors.StaleWrite(account_id=account_id)
        new = dataclasses.replace(account.settings, **change(account.settings)).validated()
        changed = sorted(
            f.name
            for f in dataclasses.fields(AccountSettings)
            if getattr(new, f.name) != getattr(account.settings, f.name)
        )
        if not changed:
            return new
        if account.enabled and new.identity != account.settings.identity:
            await require_line_free(uow, dataclasses.replace(account, settings=new))
        sip_changed = bool(SIP_FIELDS.intersection(changed))
        await uow.accounts.update_settings(account_id, new, uow.now, bump=sip_changed)
        await uow.record(
            "settings_changed",
            account_id,
            _actor_id(actor),
            {"fields": changed},
            events.SettingsChanged(
                account_id,
                _actor_id(actor),
                user_id=account.user_id,
                registration_changed=sip_changed,
                recording=new.record if "record" in changed else None,
            ),
        )
        await uow.commit()
    return new


async def set_enabled(
    deps: Dependencies, actor: TelegramUser | None, account_id: int, enabled: bool
) -> None:
    """Disable (unregister) or enable (register) an account: owner only (R2)."""
    async with deps.uow() as uow:
        account = await load_account(uow, account_id)
        if actor is not None:
            account.require_owner(actor.id)
        if account.enabled == enabled:
            return
        values: dict[str, Any] = {"enabled": enabled}
        if enabled:
            await require_line_free(uow, account)
            values["reg_error"] = None  # e.g. why a copy of a connected line was disabled
        if not enabled:
            values |= {"reg_state": RegState.DISABLED.value, "reg_code": None, "reg_error": None}
        line = f"{account.settings.login}@{account.settings.domain}"
        await uow.accounts.update(account_id, uow.now, line=line, **values)
        event: events.Event = (
            events.AccountEnabled(account_id, _actor_id(actor))
            if enabled
            else events.AccountDisabled(account_id, _actor_id(actor), user_id=account.user_id)
        )
        await uow.record(
            "enabled" if enabled else "disabled", account_id, _actor_id(actor), event=event
        )
        await uow.commit()


async def delete_account(deps: Dependencies, actor: TelegramUser | None, account_id: int) -> bool:
    """R10: the owner deletes everywhere (True); the assigned user only hands it back (False)."""
    async with deps.uow() as uow:
        account = await load_account(uow, account_id)
        if actor is not None and account.role_of(actor.id) is Role.USER:
            await _end_assignment(uow, account, actor.id, "returned_by_user", by_user=True)
            await uow.commit()
            return False
        if actor is not None:
            account.require_owner(actor.id)
        await uow.accounts.delete(account_id)  # offers and links go with it; password wiped
        await uow.record(
            "deleted",
            account_id,
            _actor_id(actor),
            {
                "login": account.settings.login,
                "domain": account.settings.domain,
                "owner_id": account.owner_id,  # the account row is gone: webhooks need it
            },
            events.AccountDeleted(
                account_id, _actor_id(actor), owner_id=account.owner_id, user_id=account.user_id
            ),
        )
        await uow.commit()
    return True


async def _end_assignment(
    uow: Any, account: Account, actor_id: int | None, action: str, *, by_user: bool
) -> None:
    await uow.accounts.update(account.id, uow.now, user_id=account.owner_id)
    await uow.record(
        action,
        account.id,
        actor_id,
        {"previous_user_id": account.user_id},
        events.AssignmentEnded(
            account.id,
            actor_id,
            owner_id=account.owner_id,
            previous_user_id=account.user_id,
            by_user=by_user,
        ),
    )


async def take_back(deps: Dependencies, actor: TelegramUser | None, account_id: int) -> int:
    """R2: the owner ends the assignment at once; returns the user it was taken from."""
    async with deps.uow() as uow:
        account = await load_account(uow, account_id)
        if actor is not None:
            account.require_owner(actor.id)
        if not account.assigned:
            raise errors.NotAssigned(account_id=account_id)
        await _end_assignment(uow, account, _actor_id(actor), "taken_back", by_user=False)
        await uow.commit()
    return account.user_id


async def reassign(
    deps: Dependencies, actor: TelegramUser | None, account_id: int, new_user: TelegramUser
) -> None:
    """R2: the owner assigns the account to another person directly (office plan, R4)."""
    async with deps.uow() as uow:
        await ensure_user(deps, uow, new_user)
        account = await load_account(uow, account_id)
        if actor is not None:
            account.require_owner(actor.id)
        ent = await entitlements(uow, account.owner_id)
        ent.require_assign()
        payer = ent.payer_for_assigned(account.payer)
        await uow.accounts.update(account_id, uow.now, user_id=new_user.id, payer=payer.value)
        await uow.record(
            "reassigned",
            account_id,
            _actor_id(actor),
            {"user_id": new_user.id, "previous_user_id": account.user_id},
            events.UserAssigned(
                account_id,
                _actor_id(actor),
                owner_id=account.owner_id,
                user_id=new_user.id,
                previous_user_id=account.user_id,
            ),
        )
        await uow.commit()


async def set_operator_paid(deps: Dependencies, account_id: int, paid: bool) -> Payer:
    """R11: the operator pays for an account, or stops paying (it falls back to its owner)."""
    async with deps.uow() as uow:
        account = await load_account(uow, account_id)
        if paid:
            payer = Payer.OPERATOR
        elif account.payer is Payer.OPERATOR:
            payer = (await entitlements(uow, account.owner_id)).payer_for_new_account()
        else:
            return account.payer
        await uow.accounts.update(account_id, uow.now, payer=payer.value)
        await uow.record("payer_changed", account_id, None, {"payer": payer.value})
        await uow.commit()
    return payer


async def report_registration(
    deps: Dependencies,
    account_id: int,
    state: RegState | str,
    code: int | None = None,
    error: str | None = None,
    next_retry_at: datetime | None = None,
) -> None:
    """One registration report (workers send them in batches: ``registrations.report_many``)."""
    report = RegistrationReport(account_id, RegState(state), code, error, next_retry_at)
    await report_many(deps, [report], None)


@dataclass(frozen=True)
class Softphone:
    """R1: what /softphone shows a person."""

    owned: list[AccountSummary]
    assigned_to_me: list[AccountSummary]


async def softphone(deps: Dependencies, actor: TelegramUser) -> Softphone:
    async with deps.uow(readonly=True) as uow:
        owned, assigned = await uow.accounts.softphone(actor.id)
    return Softphone(owned, assigned)


async def assigned_to(deps: Dependencies, actor: TelegramUser) -> list[AccountSummary]:
    async with deps.uow(readonly=True) as uow:
        return await uow.accounts.assigned_to(actor.id)


async def list_accounts(
    deps: Dependencies, *, limit: int = 1000, after_id: int = 0, owner_ids: list[int] | None = None
) -> list[AccountSummary]:
    """Operator listing (CLI, API), in id order with keyset paging."""
    async with deps.uow(readonly=True) as uow:
        return await uow.accounts.summaries(limit=limit, after_id=after_id, owner_ids=owner_ids)


async def unused(
    deps: Dependencies,
    actor: TelegramUser | None,
    *,
    owner_ids: list[int] | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[AccountSummary]:
    """R11: enabled accounts with no call and no registration change for
    ``rules.unused_days`` days (nor created in them), for their owner to disable: the
    actor's own; or, for the operator (``actor`` None), those of ``owner_ids`` (None: all),
    in id order with keyset paging."""
    if actor is not None:
        owner_ids = [actor.id]
    async with deps.uow(readonly=True) as uow:
        since = uow.now - timedelta(days=deps.rules.unused_days)
        return await uow.accounts.unused(since, owner_ids=owner_ids, after_id=after_id, limit=limit)


async def disable_unused(deps: Dependencies, *, batch: int = 500) -> list[int]:
    """TELESIP_DISABLE_UNUSED: disable every unused account (R11), a batch per transaction;
    each gets an audit record and an event telling its owner (and its user) why. Several
    processes may run it at once: an account is disabled, and told of, once."""
    done: list[int] = []
    while True:
        async with deps.uow() as uow:
            since = uow.now - timedelta(days=deps.rules.unused_days)
            found = await uow.accounts.unused(since, limit=batch)
            ids = await uow.accounts.disable_many([a.id for a in found], uow.now)
            by_id = {a.id: a for a in found}
            for account_id in ids:
                a = by_id[account_id]
                await uow.record(
                    "disabled",
                    account_id,
                    None,
                    {"reason": "unused", "days": deps.rules.unused_days},
                    events.AccountDisabled(
                        account_id, None, user_id=a.user_id, unused=True, owner_id=a.owner_id
                    ),
                )
            await uow.commit()
        done += ids
        if len(found) < batch:
            return done
