"""Plans and seats (R11): which tariffs exist, what they allow, who pays for an account.

A user may hold several subscriptions at once. Seat plans (free, softphone, office) pay for the
accounts whose payer is the owner's plan; Softphone-Start pays per account (unlinked accounts
received from someone, or own accounts once the seats are used up); the operator may pay for
an account outright. ``seats=None`` means unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass

from telesip.domain import errors
from telesip.domain.model import Payer


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    per_account: bool  # Softphone-Start: each account is billed on its own
    can_assign: bool  # the office option: assign users (R4) and settings links (R9)
    default_seats: int | None


PLANS: dict[str, Plan] = {
    p.name: p
    for p in (
        Plan("free", "Free", per_account=False, can_assign=False, default_seats=1),
        Plan("softphone", "Softphone", per_account=False, can_assign=False, default_seats=5),
        Plan("office", "Office", per_account=False, can_assign=True, default_seats=None),
        Plan(
            "softphone-start",
            "Softphone-Start",
            per_account=True,
            can_assign=False,
            default_seats=None,
        ),
    )
}


def get_plan(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise errors.UnknownPlan(plan=name, known=", ".join(PLANS)) from None


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: int
    plan: str
    seats: int | None  # None: unlimited


def _sum(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


@dataclass(frozen=True)
class Entitlements:
    """What one user's subscriptions add up to, and how much of it is in use."""

    seat_limit: int | None  # accounts paid from seats; None = unlimited
    start_limit: int | None  # accounts on Softphone-Start; 0 when the user has none
    can_assign: bool
    seats_used: int
    start_used: int

    @classmethod
    def of(cls, subs: list[Subscription], seats_used: int, start_used: int) -> Entitlements:
        seat_subs = [s.seats for s in subs if not get_plan(s.plan).per_account]
        start_subs = [s.seats for s in subs if get_plan(s.plan).per_account]
        return cls(
            seat_limit=_sum(seat_subs) if seat_subs else 0,
            start_limit=_sum(start_subs) if start_subs else 0,
            can_assign=any(get_plan(s.plan).can_assign for s in subs),
            seats_used=seats_used,
            start_used=start_used,
        )

    @property
    def counts_usage(self) -> bool:
        """Whether a decision needs the number of accounts in use: only where a limit is a
        positive number (unlimited is None, none at all is 0)."""
        return any(limit for limit in (self.seat_limit, self.start_limit))

    @property
    def seat_free(self) -> bool:
        return self.seat_limit is None or self.seats_used < self.seat_limit

    @property
    def start_free(self) -> bool:
        return self.start_limit is None or self.start_used < self.start_limit

    def payer_for_new_account(self) -> Payer:
        """Own accounts use a seat first, then Softphone-Start; else refuse (R11)."""
        if self.seat_free:
            return Payer.OWNER_PLAN
        if self.start_free:
            return Payer.START
        raise errors.SeatsExhausted(limit=self.seat_limit)

    def payer_for_received_account(self) -> Payer:
        """An unlinked account is paid per account (R6), or from a free seat otherwise."""
        if self.start_limit != 0 and self.start_free:
            return Payer.START
        if self.seat_free:
            return Payer.OWNER_PLAN
        raise errors.SeatsExhausted(limit=self.seat_limit)

    def payer_for_assigned(self, current: Payer) -> Payer:
        """R4: an assigned account is paid from the owner's seats; a per-account one moves to a
        free seat (or is refused), an operator-paid one stays so."""
        if current is not Payer.START:
            return current
        if not self.seat_free:
            raise errors.SeatsExhausted(limit=self.seat_limit)
        return Payer.OWNER_PLAN

    def require_assign(self) -> None:
        if not self.can_assign:
            raise errors.MethodNotAllowed()
