"""The control plane for remote workers (``telesip worker --control-url``): join, sync, leave,
and the calls on their lines.

A remote worker has no database access. It authenticates with its one-time credential as a
bearer token, and each sync (about once a second) is its heartbeat: it sends its registration
reports and receives the accounts pinned to it, passwords included, so the control URL must be
HTTPS (or loopback). A revoked or unknown worker gets 403 with a clear error.

A remote worker's calls are written here (``calls/store.py``: ``RemoteCallStore``): the
history row of a call arriving on a line it holds, the call's answer and end, the messages the
bot sends its person, the outgoing calls and keypad presses waiting on its lines. A worker can
name only the lines it holds and the calls it runs (anything else is 404), and only the call
messages of the bot's catalog.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field

from telesip.api import errors as errors_
from telesip.api.errors import MAX_RECORDING
from telesip.api.schemas import MAX_ID, Id
from telesip.domain import errors
from telesip.domain.callers import CallerInfo
from telesip.domain.calls import CALL_NOTICES, CallRecord, EndReason
from telesip.domain.model import WORKER_STATES, RegistrationReport, RegState
from telesip.services import callers as callers_svc
from telesip.services import calls, fleet, leases, outbox, recordings
from telesip.services.dependencies import Dependencies
from telesip.services.registrations import report_many, report_unheld
from telesip.workers.lines import to_config

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="workerCredential",
    description="A remote worker's credential (`tsw_...`), shown once by `telesip workers add "
    "--remote`; it names one worker, and the worker's current instance goes in the body.",
)
Credential = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _require_credential(credential: Credential) -> None:
    """401 before the body is looked at when no credential is sent."""
    if credential is None or not credential.credentials:
        raise errors.MissingCredential()


def _operation_id(route: APIRoute) -> str:
    head, *rest = ("worker_" + route.name).split("_")
    return head + "".join(p.capitalize() for p in rest)


router = APIRouter(
    prefix="/worker",
    tags=["worker control"],
    dependencies=[Depends(_require_credential)],
    generate_unique_id_function=_operation_id,
    responses=errors_.responses(400, 401, 403, 404, 409, 413, 422, 503),
)
NAME = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


#: one firewall entry (``domain.firewall``: ``udp:IP:PORT``, ``rtp:[IPv6]:FIRST-LAST``, ...)
Entry = Annotated[str, Field(max_length=64)]


class JoinIn(BaseModel):
    name: str = NAME
    addresses: list[Entry] = Field(default_factory=list, max_length=16)


class JoinOut(BaseModel):
    instance: str
    ttl_seconds: int
    poll_seconds: float


class ReportIn(BaseModel):
    account_id: int
    state: str = Field(pattern=f"^({'|'.join(WORKER_STATES)})$")
    code: int | None = Field(default=None, ge=100, le=699)
    error: str | None = Field(default=None, max_length=255)


class WorkerIn(BaseModel):
    """Who asks: the worker's name and the instance its join returned."""

    name: str = NAME
    instance: str = Field(max_length=36)


class CallerIn(BaseModel):
    """A caller account connected on the worker's machine (its public names)."""

    id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(max_length=128)
    username: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(
        default=None, pattern=r"^\+\d{0,3}\*+\d{0,4}$", max_length=20, description="Masked"
    )


class SyncIn(WorkerIn):
    callers: list[CallerIn] | None = Field(
        default=None, max_length=100, description="Sent when they change"
    )
    callers_gone: list[Id] = Field(
        default_factory=list, max_length=100, description="Logged out or revoked since"
    )
    stats: dict[str, int] = Field(default_factory=dict, max_length=16)
    addresses: list[Entry] | None = Field(
        default=None, max_length=16, description="Its firewall entries, when they changed"
    )
    reports: list[ReportIn] = Field(default_factory=list, max_length=5000)


class WorkerAccount(BaseModel):
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
    codecs: list[str]
    dtmf_mode: str
    record: bool
    media_encryption: str = "off"


class SyncOut(BaseModel):
    accounts: list[WorkerAccount]


def _services(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.services
    return deps


def _recordings(request: Request) -> FsPath:
    """DATA_DIR/recordings, where the bot's outbox reads what it sends the owners."""
    return FsPath(request.app.state.settings.data_dir) / "recordings"


def _ttl(request: Request) -> int:
    return int(request.app.state.settings.lease_ttl_seconds)


async def _worker(request: Request, body: WorkerIn, credential: Credential) -> fleet.WorkerRef:
    """The worker instance a request comes from, its credential checked (403 otherwise)."""
    secret = credential.credentials if credential else None
    return await fleet.authenticate(_services(request), body.name, secret, body.instance)


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


class CheckIn(BaseModel):
    name: str


@router.post("/check", status_code=204)
async def check(body: CheckIn, credential: Credential, request: Request) -> None:
    """Whether this name and credential are accepted (``telesip doctor``); changes nothing."""
    secret = credential.credentials if credential else None
    await fleet.check_credential(_services(request), body.name, secret)


@router.post("/sync", response_model=SyncOut)
async def sync(body: SyncIn, request: Request, credential: Credential) -> SyncOut:
    """Heartbeat + reports in, the accounts to keep registered out."""
    deps = _services(request)
    ref = await _worker(request, body, credential)
    if not await leases.heartbeat(deps, ref, body.stats, addresses=body.addresses):
        raise errors.WorkerRefused(name=body.name, reason="revoked")
    await report_many(
        deps,
        [
            RegistrationReport(r.account_id, RegState(r.state), r.code, r.error)
            for r in body.reports
        ],
        ref,
    )
    for caller in body.callers or []:
        info = CallerInfo(caller.id, caller.name, caller.username, caller.phone)
        await callers_svc.record_caller(deps, info, worker_id=ref.id)  # masked, by the pattern
    for caller_id in body.callers_gone:
        await callers_svc.forget_caller(deps, caller_id, worker_id=ref.id)
    if dropped := await leases.drop_ineligible(deps, ref):  # un-pinned, pinned elsewhere: it stops
        await report_unheld(deps, dropped, ttl=_ttl(request))
    await leases.claim(deps, ref, ttl=_ttl(request))
    held = await leases.leased_accounts(deps, ref)
    return SyncOut(accounts=[WorkerAccount.model_validate(asdict(to_config(a))) for a in held])


@router.post("/leave", status_code=204)
async def leave(body: WorkerIn, request: Request, credential: Credential) -> None:
    """Graceful stop: the leases go back at once."""
    await leases.leave(_services(request), await _worker(request, body, credential))


# -- calls on a remote worker's lines ----------------------------------------------------------
def _message_key(key: str) -> str:
    if key not in CALL_NOTICES:
        raise ValueError(f"{key!r} is not a call message")
    return key


MessageKey = Annotated[str, Field(max_length=64), AfterValidator(_message_key)]
Param = Annotated[str, Field(max_length=128)] | Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]
CallId = Annotated[int, Path(ge=1, le=MAX_ID)]


class CallStartIn(WorkerIn):
    account_id: Id
    number: str = Field(min_length=1, max_length=64, description="Who called the line")


class CallAnsweredIn(WorkerIn):
    caller: str | None = Field(default=None, max_length=64)


class CallEndedIn(WorkerIn):
    reason: EndReason
    sip_status: int | None = Field(default=None, ge=100, le=699)
    tell: MessageKey | None = None
    recording: str | None = Field(
        default=None, max_length=64, description="The file its upload returned"
    )


class RecordingOut(BaseModel):
    file: str


class CallMessageIn(WorkerIn):
    key: MessageKey
    params: dict[Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")], Param] = Field(
        default_factory=dict, max_length=8
    )


class ClaimIn(WorkerIn):
    account_ids: list[Id] = Field(max_length=5000)


class CommandsIn(WorkerIn):
    call_ids: list[Id] = Field(max_length=1000)


class WorkerCall(BaseModel):
    """A call's history row, as the worker running it needs it."""

    id: int
    account_id: int
    owner_id: int
    user_id: int
    direction: str
    number: str
    line: str
    state: str
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    sip_status: int | None
    worker_id: int | None
    caller: str | None
    recording: str | None


class CommandOut(BaseModel):
    id: int
    call_id: int
    kind: str
    arg: str


class Answered(BaseModel):
    ok: bool


class Orphans(BaseModel):
    ended: int


def _call(call: CallRecord) -> WorkerCall:
    return WorkerCall.model_validate(asdict(call))


async def _own_call(
    request: Request, body: WorkerIn, credential: Credential, call_id: int
) -> CallRecord:
    ref = await _worker(request, body, credential)
    return await calls.call_of_worker(_services(request), ref.id, call_id)


@router.post("/calls", response_model=WorkerCall)
async def call_started(body: CallStartIn, request: Request, credential: Credential) -> WorkerCall:
    """A call arrives on a line this worker holds: its history row (ended at once, with the
    reason, when the line is disabled or its person is in a call)."""
    deps = _services(request)
    ref = await _worker(request, body, credential)
    if body.account_id not in await leases.held(deps, ref):
        raise errors.AccountNotFound(account_id=body.account_id)
    record, _ = await calls.start_incoming(deps, body.account_id, body.number, ref.id)
    return _call(record)


@router.post("/calls/claim", response_model=list[WorkerCall])
async def calls_claimed(
    body: ClaimIn, request: Request, credential: Credential
) -> list[WorkerCall]:
    """The outgoing calls people asked for on these of the worker's lines, now its own."""
    deps = _services(request)
    ref = await _worker(request, body, credential)
    held = await leases.held(deps, ref)
    lines = [a for a in body.account_ids if a in held]
    return [_call(c) for c in await calls.claim_outgoing(deps, ref.id, lines)]


@router.post("/calls/commands", response_model=list[CommandOut])
async def call_commands(
    body: CommandsIn, request: Request, credential: Credential
) -> list[CommandOut]:
    """Keypad presses and hang-ups waiting for the worker's running calls (taken once)."""
    deps = _services(request)
    ref = await _worker(request, body, credential)
    mine = await calls.calls_of_worker(deps, ref.id, body.call_ids)
    return [
        CommandOut(id=c.id, call_id=c.call_id, kind=c.kind.value, arg=c.arg)
        for c in await calls.take_commands(deps, mine)
    ]


@router.post("/calls/orphans", response_model=Orphans)
async def calls_orphaned(body: WorkerIn, request: Request, credential: Credential) -> Orphans:
    """A (re)started worker ends the calls its previous run left open."""
    ref = await _worker(request, body, credential)
    return Orphans(ended=await calls.end_orphans(_services(request), ref.id))


@router.post("/calls/{call_id:int}/answered", response_model=Answered)
async def call_answered(
    call_id: CallId, body: CallAnsweredIn, request: Request, credential: Credential
) -> Answered:
    call = await _own_call(request, body, credential, call_id)
    return Answered(ok=await calls.mark_answered(_services(request), call.id, body.caller))


@router.post("/calls/{call_id:int}/ended", response_model=WorkerCall | None)
async def call_ended(
    call_id: CallId, body: CallEndedIn, request: Request, credential: Credential
) -> WorkerCall | None:
    """The call is over (null when it was closed already). A remote worker keeps no
    recordings: the bot could not read them."""
    call = await _own_call(request, body, credential, call_id)
    recording = body.recording
    if recording is not None and (
        recording != recordings.recording_name(call.id)
        or not (_recordings(request) / recording).exists()
    ):
        raise errors.InvalidInput("Upload the call's recording first.")
    ended = await calls.mark_ended(
        _services(request),
        call.id,
        body.reason,
        sip_status=body.sip_status,
        tell=body.tell,
        recording=recording,
    )
    return _call(ended) if ended is not None else None


@router.post(
    "/calls/{call_id:int}/recording",
    response_model=RecordingOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    },
)
async def call_recording(
    call_id: CallId,
    request: Request,
    credential: Credential,
    name: Annotated[str, Query(max_length=64)],
    instance: Annotated[str, Query(max_length=36)],
) -> RecordingOut:
    """The recording of a call the worker runs (8 kHz 16-bit mono WAV as the body, streamed,
    up to 512 MiB), before it reports the end with ``recording``: the owner gets it in the bot,
    which reads DATA_DIR/recordings of this process."""
    deps = _services(request)
    ref = await _worker(request, WorkerIn.model_construct(name=name, instance=instance), credential)
    file = await recordings.receive(
        deps, _recordings(request), ref.id, call_id, request.stream(), limit=MAX_RECORDING
    )
    return RecordingOut(file=file)


@router.post("/calls/{call_id:int}/messages", status_code=204)
async def call_message(
    call_id: CallId, body: CallMessageIn, request: Request, credential: Credential
) -> None:
    """Ask the bot to send the call's person a message of its catalog."""
    call = await _own_call(request, body, credential, call_id)
    await outbox.tell(_services(request), call, body.key, **body.params)


@router.post("/calls/{call_id:int}/keypad", status_code=204)
async def call_keypad(
    call_id: CallId, body: WorkerIn, request: Request, credential: Credential
) -> None:
    """The call was answered: the bot shows its person the keypad."""
    call = await _own_call(request, body, credential, call_id)
    await outbox.show_keypad(_services(request), call)
