"""Pure rules of telesip: no framework, no I/O, no clock."""

from __future__ import annotations

from telesip.domain.clock import Clock, FakeClock, SystemClock
from telesip.domain.model import (
    WORKER_STATES,
    Account,
    Method,
    Offer,
    OfferKind,
    OfferState,
    Payer,
    RegistrationReport,
    RegState,
    Role,
    SettingsLink,
    TelegramUser,
)
from telesip.domain.plans import PLANS, Entitlements, Plan, Subscription, get_plan
from telesip.domain.settings import AccountSettings, Secret, parse_shortcut

__all__ = [
    "PLANS",
    "WORKER_STATES",
    "Account",
    "AccountSettings",
    "Clock",
    "Entitlements",
    "FakeClock",
    "Method",
    "Offer",
    "OfferKind",
    "OfferState",
    "Payer",
    "Plan",
    "RegState",
    "RegistrationReport",
    "Role",
    "Secret",
    "SettingsLink",
    "Subscription",
    "SystemClock",
    "TelegramUser",
    "get_plan",
    "parse_shortcut",
]
