"""Settings links (R9): single-use, expiring, revocable deep links that assign an account to
whoever opens them first. Their accounts live in the links section, not in /softphone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from telesip.domain import errors, events
from telesip.domain.model import Account, Payer, SettingsLink, TelegramUser
from telesip.domain.readmodels import AccountSummary
from telesip.domain.settings import AccountSettings
from telesip.services.common import (
    add_account,
    ensure_user,
    entitlements,
    load_account,
    require_assign,
)
from telesip.services.dependencies import Dependencies
from telesip.store.uow import UnitOfWork


async def issue(
    deps: Dependencies,
    uow: UnitOfWork,
    account: Account,
    owner_id: int,
    actor_id: int | None,
    *,
    bulk: bool = False,
) -> SettingsLink:
    """A new settings link for ``account`` inside ``uow``: the account's unused links revoked
    (one live link per account), the account moved to the links section, the audit written."""
    await uow.links.revoke_unused_for(account.id, uow.now)
    link = SettingsLink(
        id=0,
        token=secrets.token_urlsafe(18),
        account_id=account.id,
        owner_id=owner_id,
        created_at=uow.now,
        expires_at=uow.now + timedelta(seconds=deps.rules.link_ttl_seconds),
    )
    link.id = await uow.links.add(link)
    if not account.via_link:
        await uow.accounts.update(account.id, uow.now, via_link=True)
    details: dict[str, object] = {"link_id": link.id}
    if bulk:
        details["bulk"] = True
    await uow.record("link_created", account.id, actor_id, details)
    return link


async def create_link(deps: Dependencies, actor: TelegramUser, account_id: int) -> SettingsLink:
    """A link for an existing account; the account moves to the links section."""
    return (await _create_link(deps, actor, account_id, listed=False))[0]


async def create_link_listed(
    deps: Dependencies, actor: TelegramUser, account_id: int
) -> tuple[SettingsLink, list[LinkLine]]:
    """``create_link``, and the links section as it is with the new link (``list_links``),
    read in the same transaction (the bot shows both at once)."""
    return await _create_link(deps, actor, account_id, listed=True)


async def _create_link(
    deps: Dependencies, actor: TelegramUser, account_id: int, *, listed: bool
) -> tuple[SettingsLink, list[LinkLine]]:
    async with deps.uow() as uow:
        await ensure_user(deps, uow, actor)
        account = await load_account(uow, account_id)
        account.require_owner(actor.id)
        await require_assign(uow, actor.id)
        link = await issue(deps, uow, account, actor.id, actor.id)
        lines = await _lines(uow, actor.id) if listed else []
        await uow.commit()
    return link, lines


async def create_link_from_settings(
    deps: Dependencies, actor: TelegramUser, settings: AccountSettings
) -> SettingsLink:
    """Connect an account straight into a link (it never shows in /softphone)."""
    settings = settings.validated()
    async with deps.uow() as uow:
        await ensure_user(deps, uow, actor)
        ent = await entitlements(uow, actor.id)
        ent.require_assign()
        if not ent.seat_free:  # office accounts are paid from the owner's seats (R4)
            raise errors.SeatsExhausted(limit=ent.seat_limit)
        account_id = await add_account(uow, actor.id, settings, Payer.OWNER_PLAN, True)
        account = await load_account(uow, account_id)
        link = await issue(deps, uow, account, actor.id, actor.id)
        await uow.commit()
    return link


@dataclass(frozen=True)
class LinkOpened:
    link: SettingsLink
    account_id: int
    owner_id: int
    previous_user_id: int


async def open_link(deps: Dependencies, actor: TelegramUser, token: str) -> LinkOpened:
    """The first person to open a live link gets the account assigned (R4/R5 apply)."""
    async with deps.uow() as uow:
        await ensure_user(deps, uow, actor)
        link = await uow.links.by_token(token)
        if link is None:
            raise errors.LinkNotFound()
        account = await load_account(uow, link.account_id)
        link = await uow.links.get(link.id)  # re-read under the account's lock
        assert link is not None
        link.check_openable(actor.id, uow.now)
        ent = await entitlements(uow, account.owner_id)
        ent.require_assign()
        if not await uow.links.mark_used(link.id, actor.id, uow.now):
            raise errors.LinkUsed()
        link.open(actor.id, uow.now)
        payer = ent.payer_for_assigned(account.payer)
        await uow.accounts.update(account.id, uow.now, user_id=actor.id, payer=payer.value)
        await uow.record(
            "link_opened",
            account.id,
            actor.id,
            {"link_id": link.id, "previous_user_id": account.user_id},
            events.LinkOpened(
                account.id, actor.id, link_id=link.id, owner_id=account.owner_id, user_id=actor.id
            ),
        )
        await uow.commit()
    return LinkOpened(link, account.id, account.owner_id, account.user_id)


async def revoke_link(deps: Dependencies, actor: TelegramUser | None, link_id: int) -> None:
    async with deps.uow() as uow:
        link = await uow.links.get(link_id)
        if link is None or (actor is not None and link.owner_id != actor.id):
            raise errors.LinkNotFound()
        if link.revoked_at is None and link.used_by is None:
            await uow.links.revoke(link_id, uow.now)
            await uow.record(
                "link_revoked", link.account_id, actor.id if actor else None, {"link_id": link_id}
            )
            await uow.commit()


@dataclass(frozen=True)
class LinkLine:
    link: SettingsLink
    account: AccountSummary | None


async def list_links(deps: Dependencies, actor: TelegramUser) -> list[LinkLine]:
    """The links section: each link with its account (used, live, expired or revoked)."""
    async with deps.uow(readonly=True) as uow:
        return await _lines(uow, actor.id)


async def _lines(uow: UnitOfWork, owner_id: int) -> list[LinkLine]:
    found = await uow.links.of_owner(owner_id)
    by_account = {a.id: a for a in await uow.accounts.owned_by(owner_id, via_link=True)}
    return [LinkLine(link, by_account.get(link.account_id)) for link in found]
