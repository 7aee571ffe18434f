"""Request and response bodies of the HTTP API (pydantic models; they make the OpenAPI document).

Inputs refuse unknown fields, control characters and integers outside 64 bits here, so that
nothing odd reaches the database; the rules themselves stay in the service layer.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Annotated, Any, Literal

import qrcode
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from telesip.domain.settings import EXPIRES_RANGE, HOST_PATTERN, WORKER_NAME
from telesip.services.webhooks import URL_PATTERN

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _clean(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text") from None
    return value


def _clean_pattern(value: str) -> str:
    _clean(value.replace("\t", ""))  # a number-rewrite pattern may hold a tab
    return value


def json_int(value: Any) -> Any:
    """A JSON integer: ``5`` or ``5.0`` (JSON Schema counts both), never ``true`` or ``"5"``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_CLEAN = AfterValidator(_clean)
_JSON_INT = BeforeValidator(json_int)
BodyId = Annotated[int, Field(ge=1, le=MAX_ID), _JSON_INT]
#: no control characters (what ``_clean`` refuses), said in the schema
TEXT = r"^[^\x00-\x1f\x7f]*$"
S16 = Annotated[str, Field(max_length=16, pattern=TEXT), _CLEAN]
S32 = Annotated[str, Field(max_length=32, pattern=TEXT), _CLEAN]
S64 = Annotated[str, Field(max_length=64, pattern=TEXT), _CLEAN]
S128 = Annotated[str, Field(max_length=128, pattern=TEXT), _CLEAN]
S500 = Annotated[str, Field(max_length=500, pattern=TEXT), _CLEAN]
S128NE = Annotated[str, Field(min_length=1, max_length=128, pattern=TEXT), _CLEAN]
#: a name: printable, not only spaces
NAME = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
S64NE = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME), _CLEAN]
#: a SIP login: RFC 3261 user characters
Login = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%#]+$")
]
Host = Annotated[str, Field(min_length=1, max_length=253, pattern=HOST_PATTERN)]
Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=URL_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65535), _JSON_INT]
Expires = Annotated[int, Field(ge=EXPIRES_RANGE[0], le=EXPIRES_RANGE[1]), _JSON_INT]


class In(BaseModel):
    """A request body: unknown fields refused, JSON types strict (``true``, never ``1``)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class UserNamesIn(In):
    """A Telegram user's names, all optional (the bot fills them when the person writes)."""

    first_name: S128 = ""
    username: S64 | None = None
    language_code: S16 | None = None


class UserIn(UserNamesIn):
    """A Telegram user, by id, with optional names."""

    id: BodyId


Transport = Literal["udp", "tcp", "tls"]
Dtmf = Literal["rfc4733", "info", "inband"]
MediaEncryption = Literal["off", "optional", "required"]
Codec = Literal["PCMA", "PCMU", "G722", "opus", "telephone-event"]
Rule = Annotated[
    str,
    Field(max_length=200, pattern=r"^[^\x00-\x08\x0a-\x1f\x7f]*$"),
    AfterValidator(_clean_pattern),
]
RulePair = Annotated[
    list[Rule], Field(min_length=2, max_length=2, description="[pattern, replacement]")
]


class _SettingsFields(In):
    """The SIP settings' fields, each optional: what a patch and a new account share."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # 422: nothing to change

    login: Login | None = None
    password: S128NE | None = Field(default=None, json_schema_extra={"writeOnly": True})
    domain: Host | None = None
    auth_username: Annotated[str, Field(min_length=1, max_length=128, pattern=NAME)] | None = None
    registrar: Host | None = None
    outbound_proxy: Host | None = None
    transport: Transport | None = None
    port: Port | None = None
    expires: Expires | None = None
    display_name: S64 | None = None
    codecs: Annotated[list[Codec], Field(min_length=1, max_length=8)] | None = None
    dtmf_mode: Dtmf | None = None
    rewrite_rules: Annotated[list[RulePair], Field(max_length=20)] | None = None
    worker: Annotated[str, Field(pattern=WORKER_NAME.pattern)] | None = None
    record: bool | None = Field(
        default=None, description="Record calls; each recording goes to the account's owner"
    )
    media_encryption: MediaEncryption | None = Field(
        default=None,
        description="SRTP (SDES keys, RFC 4568) of the line's calls: off, optional (encrypted "
        "when the peer agrees) or required (calls without SRTP are refused); null: the "
        "transport's default, optional over TLS and off otherwise",
    )


#: fields a patch may not clear with ``null``: an account always has them
NOT_CLEARABLE: tuple[str, ...] = (
    "login",
    "password",
    "domain",
    "transport",
    "expires",
    "codecs",
    "dtmf_mode",
    "record",
)


def _no_null(schema: dict[str, Any]) -> None:
    """The document says what the server checks: these fields take no ``null`` in a patch, and
    a patch changes something (this replaces the fields' own ``json_schema_extra``, so the
    ``minProperties`` is said again here)."""
    schema["minProperties"] = 1
    for name in NOT_CLEARABLE:
        field = schema["properties"][name]
        kept = [s for s in field.pop("anyOf", []) if s != {"type": "null"}]
        field.update(kept[0] if len(kept) == 1 else {"anyOf": kept} if kept else {})


class SettingsPatch(_SettingsFields):
    """Fields to change; absent fields stay. ``null`` clears an optional field (the login,
    password, server, transport, expiry, codecs, DTMF mode and recording cannot be cleared)."""

    model_config = ConfigDict(json_schema_extra=_no_null)

    @field_validator(*NOT_CLEARABLE, mode="before")
    @classmethod
    def _kept(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be cleared; leave the field out to keep it")
        return value


class SettingsIn(_SettingsFields):
    """SIP settings of a new account: the same fields, with login and password required.
    ``template`` prefills the server fields from a server template; fields given here win.
    ``domain`` is required unless a template gives it. The password is write-only: it is never
    returned."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["domain"], "properties": {"domain": {"type": "string"}}},
                {"required": ["template"], "properties": {"template": {"type": "string"}}},
            ]
        }
    )

    template: S32 | None = None
    login: Login
    password: S128NE = Field(json_schema_extra={"writeOnly": True})


class AccountCreate(In):
    owner: UserIn
    settings: SettingsIn


class EnabledIn(In):
    enabled: bool


class OperatorPaidIn(In):
    paid: bool


class AssignIn(In):
    user: UserIn


class Registration(BaseModel):
    state: str
    code: int | None
    error: str | None


class PendingOffer(BaseModel):
    id: int
    method: str
    expires_at: datetime


class AccountOut(BaseModel):
    id: int
    owner_id: int
    user_id: int
    owner_label: str
    user_label: str
    assigned: bool
    enabled: bool
    payer: str
    via_link: bool
    duplicate: bool
    registration: Registration
    login: str
    domain: str
    transport: str
    port: int | None
    worker: str | None
    settings: dict[str, Any] | None = Field(
        default=None, description="Every setting except the password (single-account reads)"
    )
    pending_offer: PendingOffer | None = None


class AccountsPage(BaseModel):
    accounts: list[AccountOut]
    next_after_id: int | None = Field(description="Pass as after_id for the next page")


class LinkFromAccount(In):
    pass


class LinkCreate(In):
    owner: UserIn
    settings: SettingsIn


class LinkOut(BaseModel):
    id: int
    account_id: int
    owner_id: int
    state: Literal["active", "used", "revoked", "expired"]
    url: str | None = Field(description="t.me deep link; only while the link is active")
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None
    revoked_at: datetime | None
    qr_png: str | None = Field(
        default=None, description="QR code of the url, PNG, base64 (in the create response)"
    )


def qr_png(data: str) -> bytes:
    image = qrcode.make(data, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_png_base64(data: str) -> str:
    return base64.b64encode(qr_png(data)).decode()


class OfferCreate(In):
    account_id: BodyId
    method: Literal["assign", "unlink"]


class OfferOut(BaseModel):
    id: int
    account_id: int
    sender_id: int
    method: str
    kind: str
    state: str
    created_at: datetime
    expires_at: datetime
    recipient_id: int | None
    url: str | None = Field(
        default=None,
        description="t.me deep link the recipient opens to receive the offer in the bot "
        "(pending offers, when the bot is configured)",
    )


class TemplateIn(In):
    name: S64NE
    domain: Host | None = None
    transport: Transport = "udp"
    port: Port | None = None
    tls_port: Port | None = None
    expires: Expires = 300
    dtmf_mode: Dtmf = "rfc4733"
    registrar: Host | None = None
    outbound_proxy: Host | None = None
    notes: S500 = ""


class TemplateOut(BaseModel):
    id: str
    name: str
    kind: str
    builtin: bool
    domain: str | None
    transport: str
    port: int | None
    tls_port: int | None
    expires: int
    dtmf_mode: str
    registrar: str | None
    outbound_proxy: str | None
    notes: str


class SubscriptionIn(In):
    plan: Literal["free", "softphone", "office", "softphone-start"]
    seats: Annotated[int, Field(ge=-1, le=1_000_000), _JSON_INT] | None = Field(
        default=None, description="null: the plan's default; -1: unlimited"
    )
    add: bool = Field(default=False, description="Keep the user's other plans")
    user: UserNamesIn | None = Field(
        default=None, description="Names for a user new to the service (the id is the path's)"
    )


class PlanOut(BaseModel):
    plan: str
    seats: int | None


class EntitlementsOut(BaseModel):
    seat_limit: int | None
    seats_used: int
    start_limit: int | None
    start_used: int
    can_assign: bool


class SubscriptionOut(BaseModel):
    user_id: int
    subscriptions: list[PlanOut]
    entitlements: EntitlementsOut


class AuditRecordOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None = Field(description="null: the operator")
    action: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    records: list[AuditRecordOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page")


WebhookEvent = Literal[
    "created",
    "registered",
    "auth_failed",
    "assigned",
    "transferred",
    "returned",
    "deleted",
    "call_started",
    "call_ended",
]


class WebhookIn(In):
    url: Url
    events: Annotated[list[WebhookEvent], Field(max_length=7)] = Field(
        default_factory=list, description="Empty: every event"
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 key for X-Telesip-Signature; shown only once")


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str
    event: str
    account_id: int | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="down: no database; degraded: workers are registered but none is alive"
    )
    database: bool
    workers: int | None = Field(description="Workers with a fresh heartbeat")
    workers_registered: int | None = Field(description="Workers not revoked")


# --- calls ------------------------------------------------------------------------------------
class CallOut(BaseModel):
    id: int
    account_id: int
    owner_id: int
    user_id: int = Field(description="The Telegram user who made or took the call")
    direction: Literal["in", "out"]
    number: str = Field(description="The far party: who called the line, or who was dialled")
    line: str = Field(description="The line's SIP login")
    state: Literal["requested", "ringing", "answered", "ended"]
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    sip_status: int | None
    duration: float | None = Field(description="Seconds from answer to end")


class CallsPage(BaseModel):
    calls: list[CallOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page")


class CallIn(In):
    """Click to call: the line's user is called in Telegram, then ``number`` through the line."""

    account_id: BodyId
    number: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[ ().-]*(?:tel:)?[ ().-]*\+?(?:[ ().-]*[0-9*#]){1,32}[ ().-]*$",
            description="Digits, * and #, an optional leading +; spaces, dashes, dots and "
            "parentheses are ignored",
        ),
        AfterValidator(_clean),
    ]


# -- importing accounts (docs/import.md) ----------------------------------------------------

ImportText = Annotated[str | None, Field(default=None, max_length=1000)]


class ImportRowIn(In):
    """One account to import, as a CSV row of telesip's format would give it (every value
    text; the rules are the file's: docs/import.md)."""

    login: Annotated[str, Field(max_length=1000)]
    password: Annotated[str, Field(max_length=1000)]
    server: ImportText = None
    port: ImportText = None
    transport: ImportText = None
    registrar: ImportText = None
    proxy: ImportText = None
    auth_user: ImportText = None
    display_name: ImportText = None
    template: ImportText = None
    telegram: ImportText = Field(default=None, description="A user id or @username to assign")


class ImportRowsIn(In):
    """Rows instead of a file: row N is reported as line N + 1 (the header is line 1)."""

    rows: Annotated[list[ImportRowIn], Field(min_length=1)]


class ImportIssueOut(BaseModel):
    code: str = Field(description="Stable code (import.bad_port ...): docs/import.md")
    line: int | None = Field(description="1-based line of the file; null: the whole file")
    params: dict[str, str | int | float]
    message: str = Field(description="English text, 'Line N: ' first")


class ImportCountsOut(BaseModel):
    new: int
    changed: int
    identical: int
    taken: int = Field(description="Another owner has the same login at the same server (R11)")
    errors: int


class ImportSeatsOut(BaseModel):
    needed: int
    free: int | None = Field(description="null: unlimited")
    missing: int


class ImportUnassignedOut(BaseModel):
    line: int
    login: str
    telegram: str = Field(description="The user named, who has not started the bot yet")


class ImportResultOut(BaseModel):
    """What the import did, or (dry_run, or nothing to write) would do."""

    format: str | None = Field(description="csv, freepbx, pjsip.conf or sip.conf")
    refused: bool
    applied: bool = Field(description="Written (false: a dry run, or nothing to write)")
    summary: str = Field(description="'41 new, 3 changed, 2 identical skipped, 1 error ...'")
    counts: ImportCountsOut
    seats: ImportSeatsOut
    created: list[int] = Field(description="Ids of the accounts created")
    updated: list[int] = Field(description="Ids of the accounts changed")
    assigned: int
    unassigned: list[ImportUnassignedOut]
    issues: list[ImportIssueOut]
    notes: list[ImportIssueOut]
