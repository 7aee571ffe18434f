"""Operators' API keys and their scope: what a key may reach (R12's operators' API). The key
itself is stored only as its hash; ``ApiKey`` is what is known of it without the secret.

Scope rules: a key with ``all`` covers everything; otherwise an account is in scope when its
owner is one of the key's users or the account is one of the key's accounts, and a user is in
scope when listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesip.domain.errors import OutOfScope


@dataclass(frozen=True)
class Scope:
    all: bool = False
    users: frozenset[int] = frozenset()
    accounts: frozenset[int] = frozenset()

    def covers_user(self, user_id: int) -> bool:
        return self.all or user_id in self.users

    def covers_account(self, account_id: int, owner_id: int) -> bool:
        return self.all or owner_id in self.users or account_id in self.accounts

    def require_user(self, user_id: int) -> None:
        if not self.covers_user(user_id):
            raise OutOfScope(what=f"Telegram user {user_id}")

    def require_account(self, account_id: int, owner_id: int) -> None:
        if not self.covers_account(account_id, owner_id):
            raise OutOfScope(what=f"SIP account #{account_id}")

    def to_json(self) -> dict[str, Any]:
        return {"all": self.all, "users": sorted(self.users), "accounts": sorted(self.accounts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        return cls(
            all=bool(data.get("all")),
            users=frozenset(int(u) for u in data.get("users", ())),
            accounts=frozenset(int(a) for a in data.get("accounts", ())),
        )


@dataclass(frozen=True)
class ApiKey:
    id: int
    operator: str
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
