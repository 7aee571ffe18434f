"""Operators and their API keys: a key is stored only as its SHA-256 hash, belongs to an
operator (who owns templates and webhooks made with it) and is scoped to the Telegram users
and accounts that operator manages. The whole key is shown once, when it is created.

Scope rules: a key with ``all`` covers everything; otherwise an account is in scope when its
owner is one of the key's users or the account is one of the key's accounts, and a user is in
scope when listed. Every check happens before the use case runs (see ``telesip.api.auth``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from telesip.domain import errors
from telesip.domain.errors import ApiKeyNotFound, InvalidApiKey, StorageFull
from telesip.domain.model import SettingsLink
from telesip.domain.operators import ApiKey, Scope
from telesip.services.dependencies import Dependencies

KEY_PREFIX = "tsk_"
_OPERATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once; only its hash is stored


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create_api_key(
    deps: Dependencies, operator: str, scope: Scope, name: str = ""
) -> IssuedKey:
    if not _OPERATOR.match(operator):
        raise errors.InvalidInput("operator name: 1-64 letters, digits, '.', '_' or '-'")
    if len(name) > 64:
        raise errors.InvalidInput("key name is at most 64 characters")
    if not scope.all and not scope.users and not scope.accounts:
        raise errors.InvalidInput("a key needs a scope: all, or some users or accounts")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    async with deps.uow() as uow:
        for account_id in sorted(scope.accounts):  # a user may be named before they start the bot
            if await uow.accounts.summary(account_id) is None:
                raise errors.AccountNotFound(account_id=account_id)
        key = await uow.api_keys.add(
            operator=operator,
            name=name,
            prefix=token[:12],
            key_hash=hash_key(token),
            scope=scope.to_json(),
            now=uow.now,
        )
        await uow.record(
            "api_key_created", None, None, {"key_id": key.id, "operator": operator, "name": name}
        )
        await uow.commit()
    return IssuedKey(key, token)


async def authenticate(deps: Dependencies, token: str | None) -> ApiKey:
    """The live key for ``token``, or InvalidApiKey."""
    if not token or not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise InvalidApiKey()
    key: ApiKey | None = None
    try:
        async with deps.uow() as uow:
            found = await uow.api_keys.by_hash(hash_key(token))
            if found is None or found.revoked_at is not None:
                raise InvalidApiKey()
            key = found
            if key.last_used_at is None or uow.now - key.last_used_at >= _TOUCH_EVERY:
                await uow.api_keys.touch(key.id, uow.now)
                await uow.commit()
    except StorageFull:  # the last-used stamp is best effort: reads go on on a full disk
        if key is None:
            raise
    return key


async def list_api_keys(deps: Dependencies, operator: str | None = None) -> list[ApiKey]:
    """Every key, or ``operator``'s (``NotFound`` when no key was ever made for that name)."""
    async with deps.uow() as uow:
        keys = await uow.api_keys.listing(operator)
    if operator is not None and not keys:
        raise errors.NotFound(f"No API key was ever made for operator {operator!r}.")
    return keys


async def revoke_api_key(deps: Dependencies, key_id: int) -> None:
    async with deps.uow() as uow:
        if not await uow.api_keys.revoke(key_id, uow.now):
            if not await uow.api_keys.exists(key_id):
                raise ApiKeyNotFound(key_id=key_id)
            return
        await uow.record("api_key_revoked", None, None, {"key_id": key_id})
        await uow.commit()


async def get_link(deps: Dependencies, link_id: int) -> SettingsLink:
    """One settings link by id (the operator's view; scope is the caller's check)."""
    async with deps.uow() as uow:
        link = await uow.links.get(link_id)
    if link is None:
        raise errors.LinkNotFound()
    return link
