"""Helpers the use cases share: load-and-check an account, entitlements, the actor's row."""

from __future__ import annotations

from telesip.domain import errors, events
from telesip.domain.model import Account, Payer, TelegramUser
from telesip.domain.plans import Entitlements, get_plan
from telesip.domain.settings import AccountSettings
from telesip.services.dependencies import Dependencies
from telesip.store.uow import UnitOfWork


def default_subscription(deps: Dependencies) -> tuple[str, int | None]:
    """The plan and seats a new Telegram user starts with."""
    plan = get_plan(deps.rules.default_plan)
    seats = deps.rules.default_seats if deps.rules.default_seats is not None else plan.default_seats
    return plan.name, seats


async def ensure_user(deps: Dependencies, uow: UnitOfWork, user: TelegramUser) -> None:
    await uow.users.ensure(user, uow.now, *default_subscription(deps))


async def load_account(uow: UnitOfWork, account_id: int, *, lock: bool = True) -> Account:
    account = await uow.accounts.get(account_id, lock=lock)
    if account is None:
        raise errors.AccountNotFound(account_id=account_id)
    return account


async def entitlements(uow: UnitOfWork, user_id: int, *, lock: bool = True) -> Entitlements:
    """The user's plans and usage, to decide on a seat (``lock``) or to show them."""
    return await uow.users.entitlements(user_id, lock=lock)


async def require_assign(uow: UnitOfWork, user_id: int) -> None:
    """The user's plans let them hand accounts to others (R4), or ``MethodNotAllowed``. The
    plans alone decide it: no usage is counted, no row locked."""
    Entitlements.of(await uow.users.subscriptions(user_id), 0, 0).require_assign()


def line_connected_message(settings: AccountSettings) -> str:
    """Why a copy of an already connected line is disabled (R11)."""
    return errors.LineConnected(sip=f"{settings.login}@{settings.domain}").message


async def require_line_free(uow: UnitOfWork, account: Account) -> None:
    """R11: enabling ``account`` is refused while another copy of its line is enabled."""
    if await uow.accounts.enabled_copy(account.settings.identity, other_than=account.id):
        raise errors.LineConnected(sip=f"{account.settings.login}@{account.settings.domain}")


async def add_account(
    uow: UnitOfWork, owner_id: int, settings: AccountSettings, payer: Payer, via_link: bool
) -> int:
    """Store a new account of ``owner_id`` with its audit record and event (no secret in them).

    R11, identical accounts: a line (login at server) registers once. When an enabled copy of
    the line exists (anyone's), the new account is stored disabled, its registration error
    saying why (nothing about the other copy's owner); it keeps its seat like any account.
    The database decides which copy is the newer under concurrency (``Accounts.add``)."""
    because = line_connected_message(settings)
    account_id, enabled = await uow.accounts.add(
        owner_id, settings, payer, via_link, uow.now, disabled_because=because
    )
    await uow.record(
        "created",
        account_id,
        owner_id,
        {"login": settings.login, "domain": settings.domain, "payer": payer.value}
        | ({} if enabled else {"disabled": "identical"}),
        events.AccountCreated(account_id, owner_id, owner_id=owner_id),
    )
    return account_id
