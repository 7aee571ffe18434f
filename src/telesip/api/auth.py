"""API-key authentication and the request context every router gets.

``Authorization: Bearer <key>``: a missing, unknown or revoked key is 401; a key acting outside
its scope is 403 (``out_of_scope``). Scope checks read the account's current owner first, then
the router calls the use case with ``actor=None`` (the operator), so audit records say the
operator did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from telesip.config import Settings
from telesip.domain import errors
from telesip.domain.operators import ApiKey
from telesip.services import operators
from telesip.services.dependencies import Dependencies

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="operatorKey",
    description="An operator's API key (`tsk_...`) made with `telesip api-keys create`; its "
    "scope is every user, some users, or some accounts.",
)


@dataclass(frozen=True)
class Ctx:
    deps: Dependencies
    settings: Settings
    key: ApiKey
    bot_username: str | None

    @property
    def operator(self) -> str:
        return self.key.operator

    async def require_account(self, account_id: int) -> int:
        """Check the account is in scope; returns its owner's id."""
        async with self.deps.uow() as uow:
            summary = await uow.accounts.summary(account_id)
        if summary is None:
            raise errors.AccountNotFound(account_id=account_id)
        self.key.scope.require_account(account_id, summary.owner_id)
        return summary.owner_id

    def require_user(self, user_id: int) -> None:
        self.key.scope.require_user(user_id)

    def deep_link(self, payload: str) -> str | None:
        if not self.bot_username:
            return None
        return f"https://t.me/{self.bot_username}?start={payload}"


async def context(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Ctx:
    deps: Dependencies = request.app.state.services
    key = await operators.authenticate(deps, credentials.credentials if credentials else None)
    return Ctx(deps, request.app.state.settings, key, request.app.state.bot_username)


Auth = Annotated[Ctx, Depends(context)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query(request: Request) -> None:
    """Unknown query parameters are refused (422), as unknown body fields are."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    unknown = set(request.query_params) - _query_names(dependant)
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "Unknown parameter"}
                for name in sorted(unknown)
            ]
        )
