"""The control plane for remote workers (``telesip worker --control-url``): join, sync, leave.

A remote worker has no database access. It authenticates with its one-time credential as a
bearer token, and each sync (about once a second) is its heartbeat: it sends its registration
reports and receives the accounts pinned to it, passwords included, so the control URL must be
HTTPS (or loopback). A revoked or unknown worker gets 403 with a clear error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from telesip.services import fleet
from telesip.services.context import Services
from telesip.services.registrations import Report, report_many

router = APIRouter(prefix="/worker", tags=["worker control"])
bearer = HTTPBearer(auto_error=False, description="The remote worker's one-time credential")
Credential = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
NAME = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class JoinIn(BaseModel):
    name: str = NAME
    addresses: list[str] = Field(default_factory=list, max_length=16)


class JoinOut(BaseModel):
    instance: str
    ttl_seconds: int
    poll_seconds: float


class ReportIn(BaseModel):
    account_id: int
    state: str = Field(
        pattern=r"^(registering|registered|auth_failed|unreachable|failed|disabled)$"
    )
    code: int | None = Field(default=None, ge=100, le=699)
    error: str | None = Field(default=None, max_length=255)


class SyncIn(BaseModel):
    name: str = NAME
    instance: str = Field(max_length=36)
    stats: dict[str, int] = Field(default_factory=dict, max_length=16)
    reports: list[ReportIn] = Field(default_factory=list, max_length=5000)


class AccountOut(BaseModel):
    account_id: int
    login: str
    password: str
    domain: str
    auth_username: str | None
    registrar: str | None
    outbound_proxy: str | None
    transport: str
    port: int | None
    expires: int
    display_name: str | None


class SyncOut(BaseModel):
    accounts: list[AccountOut]


def _services(request: Request) -> Services:
    s: Services = request.app.state.services
    return s


def _ttl(request: Request) -> int:
    return int(request.app.state.settings.lease_ttl_seconds)


@router.post("/join", response_model=JoinOut)
async def join(body: JoinIn, request: Request, credential: Credential) -> JoinOut:
    """Start a remote worker instance (whatever an earlier one held is released)."""
    ref = await fleet.join(
        _services(request),
        body.name,
        addresses=body.addresses,
        credential=credential.credentials if credential else None,
        remote=True,
    )
    return JoinOut(instance=ref.instance, ttl_seconds=_ttl(request), poll_seconds=1.0)


@router.post("/sync", response_model=SyncOut)
async def sync(body: SyncIn, request: Request, credential: Credential) -> SyncOut:
    """Heartbeat + reports in, the accounts to keep registered out."""
    s = _services(request)
    ref = await fleet.authenticate(
        s, body.name, credential.credentials if credential else None, body.instance
    )
    if not await fleet.heartbeat(s, ref, body.stats):
        raise fleet.WorkerRefused(name=body.name, reason="revoked")
    await report_many(
        s, [Report(r.account_id, r.state, r.code, r.error) for r in body.reports], ref
    )
    await fleet.claim(s, ref, ttl=_ttl(request))
    held = await fleet.leased_accounts(s, ref)
    return SyncOut(
        accounts=[
            AccountOut(
                account_id=a.id,
                login=a.settings.login,
                password=a.settings.password.reveal(),
                domain=a.settings.domain,
                auth_username=a.settings.auth_username,
                registrar=a.settings.registrar,
                outbound_proxy=a.settings.outbound_proxy,
                transport=a.settings.transport,
                port=a.settings.port,
                expires=a.settings.expires,
                display_name=a.settings.display_name,
            )
            for a in held
        ]
    )


@router.post("/leave", status_code=204)
async def leave(body: SyncIn, request: Request, credential: Credential) -> None:
    """Graceful stop: the leases go back at once."""
    s = _services(request)
    ref = await fleet.authenticate(
        s, body.name, credential.credentials if credential else None, body.instance
    )
    await fleet.leave(s, ref)
