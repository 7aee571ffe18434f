"""Types of telesip's two OpenAPI documents: written by ``clients/python/generate.py``
from docs/openapi.json and docs/worker-openapi.json. Do not edit: regenerate.

An object schema is a ``TypedDict`` (its required properties ``Required``); an enumeration a
``Literal``; ``PUBLIC_OPERATIONS`` and ``WORKER_OPERATIONS`` map each operationId to its
method and path.
"""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

__all__ = [
    "AccountCreate",
    "AccountOut",
    "AccountsPage",
    "Answered",
    "AssignIn",
    "AuditPage",
    "AuditRecordOut",
    "BulkAssignIn",
    "BulkAssignmentIn",
    "BulkLinkOut",
    "BulkLinksOut",
    "BulkOut",
    "BulkSelection",
    "CallAnsweredIn",
    "CallEndedIn",
    "CallIn",
    "CallMessageIn",
    "CallOut",
    "CallStartIn",
    "CallerIn",
    "CallsPage",
    "CheckIn",
    "ClaimIn",
    "CommandOut",
    "CommandsIn",
    "DeliveryOut",
    "EnabledIn",
    "EndReason",
    "EntitlementsOut",
    "FieldProblem",
    "Health",
    "ImportCountsOut",
    "ImportIssueOut",
    "ImportResultOut",
    "ImportSeatsOut",
    "ImportUnassignedOut",
    "JoinIn",
    "JoinOut",
    "LinkCreate",
    "LinkOut",
    "OfferCreate",
    "OfferOut",
    "OperatorPaidIn",
    "Orphans",
    "PendingOffer",
    "PlanOut",
    "Problem",
    "RecordingOut",
    "Registration",
    "ReportIn",
    "SettingsIn",
    "SettingsPatch",
    "SubscriptionIn",
    "SubscriptionOut",
    "SyncIn",
    "SyncOut",
    "TemplateIn",
    "TemplateOut",
    "UserIn",
    "UserNamesIn",
    "WebhookCreated",
    "WebhookIn",
    "WebhookOut",
    "WorkerAccount",
    "WorkerCall",
    "WorkerIn",
    "PUBLIC_OPERATIONS",
    "WORKER_OPERATIONS",
]


class AccountCreate(TypedDict, total=False):
    owner: Required[UserIn]
    settings: Required[SettingsIn]


class AccountOut(TypedDict, total=False):
    assigned: Required[bool]
    domain: Required[str]
    duplicate: Required[bool]
    enabled: Required[bool]
    id: Required[int]
    login: Required[str]
    owner_id: Required[int]
    owner_label: Required[str]
    payer: Required[str]
    pending_offer: PendingOffer | None
    port: Required[int | None]
    registration: Required[Registration]
    settings: dict[str, Any] | None
    transport: Required[str]
    user_id: Required[int]
    user_label: Required[str]
    via_link: Required[bool]
    worker: Required[str | None]


class AccountsPage(TypedDict, total=False):
    accounts: Required[list[AccountOut]]
    next_after_id: Required[int | None]


class Answered(TypedDict, total=False):
    ok: Required[bool]


class AssignIn(TypedDict, total=False):
    user: Required[UserIn]


class AuditPage(TypedDict, total=False):
    next_before_id: Required[int | None]
    records: Required[list[AuditRecordOut]]


class AuditRecordOut(TypedDict, total=False):
    action: Required[str]
    actor_id: Required[int | None]
    at: Required[str]
    details: Required[dict[str, Any]]
    id: Required[int]


class BulkAssignIn(TypedDict, total=False):
    """``rows``, or ``csv``: the text of a file of (account, user) rows (docs/bulk.md)."""
    csv: str
    owner_id: Required[int]
    rows: list[BulkAssignmentIn]


class BulkAssignmentIn(TypedDict, total=False):
    account_id: Required[int]
    user: Required[int | str]


class BulkLinkOut(TypedDict, total=False):
    account_id: Required[int]
    expires_at: Required[str]
    login: Required[str]
    name: Required[str]
    server: Required[str]
    url: Required[str]


class BulkLinksOut(TypedDict, total=False):
    links: Required[list[BulkLinkOut]]


class BulkOut(TypedDict, total=False):
    changed: Required[list[int]]
    unchanged: Required[list[int]]


class BulkSelection(TypedDict, total=False):
    """Which of the owner's accounts: ``account_ids`` or ``group``, not both."""
    account_ids: list[int]
    expected_count: int | None
    group: Literal["unassigned", "enabled", "disabled", "unused"]
    owner_id: Required[int]


class CallAnsweredIn(TypedDict, total=False):
    caller: str | None
    instance: Required[str]
    name: Required[str]


class CallEndedIn(TypedDict, total=False):
    instance: Required[str]
    name: Required[str]
    reason: Required[EndReason]
    recording: str | None
    sip_status: int | None
    tell: str | None


class CallIn(TypedDict, total=False):
    """Click to call: the line's user is called in Telegram, then ``number`` through the line."""
    account_id: Required[int]
    number: Required[str]


class CallMessageIn(TypedDict, total=False):
    instance: Required[str]
    key: Required[str]
    name: Required[str]
    params: dict[str, str | int]


class CallOut(TypedDict, total=False):
    account_id: Required[int]
    answered_at: Required[str | None]
    created_at: Required[str]
    direction: Required[Literal["in", "out"]]
    duration: Required[float | None]
    end_reason: Required[str | None]
    ended_at: Required[str | None]
    id: Required[int]
    line: Required[str]
    number: Required[str]
    owner_id: Required[int]
    sip_status: Required[int | None]
    state: Required[Literal["requested", "ringing", "answered", "ended"]]
    user_id: Required[int]


class CallStartIn(TypedDict, total=False):
    account_id: Required[int]
    instance: Required[str]
    name: Required[str]
    number: Required[str]


class CallerIn(TypedDict, total=False):
    """A caller account connected on the worker's machine (its public names)."""
    id: Required[int]
    name: Required[str]
    phone: str | None
    username: str | None


class CallsPage(TypedDict, total=False):
    calls: Required[list[CallOut]]
    next_before_id: Required[int | None]


class CheckIn(TypedDict, total=False):
    name: Required[str]


class ClaimIn(TypedDict, total=False):
    account_ids: Required[list[int]]
    instance: Required[str]
    name: Required[str]


class CommandOut(TypedDict, total=False):
    arg: Required[str]
    call_id: Required[int]
    id: Required[int]
    kind: Required[str]


class CommandsIn(TypedDict, total=False):
    call_ids: Required[list[int]]
    instance: Required[str]
    name: Required[str]


class DeliveryOut(TypedDict, total=False):
    account_id: Required[int | None]
    attempts: Required[int]
    created_at: Required[str]
    delivered_at: Required[str | None]
    delivery_id: Required[str]
    event: Required[str]
    id: Required[int]
    last_error: Required[str | None]
    last_status: Required[int | None]
    next_attempt_at: Required[str | None]
    state: Required[Literal["pending", "delivered", "failed"]]


class EnabledIn(TypedDict, total=False):
    enabled: Required[bool]


EndReason = Literal["completed", "missed", "declined", "busy", "cancelled", "privacy", "unavailable", "failed", "limit"]


class EntitlementsOut(TypedDict, total=False):
    can_assign: Required[bool]
    seat_limit: Required[int | None]
    seats_used: Required[int]
    start_limit: Required[int | None]
    start_used: Required[int]


class FieldProblem(TypedDict, total=False):
    """One invalid part of a request: exactly one of ``pointer``, ``parameter``, ``header``."""
    detail: Required[str]
    header: str | None
    parameter: str | None
    pointer: str | None


class Health(TypedDict, total=False):
    database: Required[bool]
    status: Required[Literal["ok", "degraded", "down"]]
    workers: Required[int | None]
    workers_registered: Required[int | None]


class ImportCountsOut(TypedDict, total=False):
    changed: Required[int]
    errors: Required[int]
    identical: Required[int]
    new: Required[int]
    taken: Required[int]


class ImportIssueOut(TypedDict, total=False):
    code: Required[str]
    line: Required[int | None]
    message: Required[str]
    params: Required[dict[str, str | int | float]]


class ImportResultOut(TypedDict, total=False):
    """What the import did, or (dry_run, or nothing to write) would do."""
    applied: Required[bool]
    assigned: Required[int]
    counts: Required[ImportCountsOut]
    created: Required[list[int]]
    format: Required[str | None]
    issues: Required[list[ImportIssueOut]]
    notes: Required[list[ImportIssueOut]]
    refused: Required[bool]
    seats: Required[ImportSeatsOut]
    summary: Required[str]
    unassigned: Required[list[ImportUnassignedOut]]
    updated: Required[list[int]]


class ImportSeatsOut(TypedDict, total=False):
    free: Required[int | None]
    missing: Required[int]
    needed: Required[int]


class ImportUnassignedOut(TypedDict, total=False):
    line: Required[int]
    login: Required[str]
    telegram: Required[str]


class JoinIn(TypedDict, total=False):
    addresses: list[str]
    name: Required[str]


class JoinOut(TypedDict, total=False):
    instance: Required[str]
    poll_seconds: Required[float]
    ttl_seconds: Required[int]


class LinkCreate(TypedDict, total=False):
    owner: Required[UserIn]
    settings: Required[SettingsIn]


class LinkOut(TypedDict, total=False):
    account_id: Required[int]
    created_at: Required[str]
    expires_at: Required[str]
    id: Required[int]
    owner_id: Required[int]
    qr_png: str | None
    revoked_at: Required[str | None]
    state: Required[Literal["active", "used", "revoked", "expired"]]
    url: Required[str | None]
    used_at: Required[str | None]
    used_by: Required[int | None]


class OfferCreate(TypedDict, total=False):
    account_id: Required[int]
    method: Required[Literal["assign", "unlink"]]


class OfferOut(TypedDict, total=False):
    account_id: Required[int]
    created_at: Required[str]
    expires_at: Required[str]
    id: Required[int]
    kind: Required[str]
    method: Required[str]
    recipient_id: Required[int | None]
    sender_id: Required[int]
    state: Required[str]
    url: str | None


class OperatorPaidIn(TypedDict, total=False):
    paid: Required[bool]


class Orphans(TypedDict, total=False):
    ended: Required[int]


class PendingOffer(TypedDict, total=False):
    expires_at: Required[str]
    id: Required[int]
    method: Required[str]


class PlanOut(TypedDict, total=False):
    plan: Required[str]
    seats: Required[int | None]


class Problem(TypedDict, total=False):
    """RFC 9457 problem details."""
    code: Required[str]
    detail: Required[str]
    errors: list[FieldProblem] | None
    instance: Required[str]
    status: Required[int]
    title: Required[str]
    type: Required[str]


class RecordingOut(TypedDict, total=False):
    file: Required[str]


class Registration(TypedDict, total=False):
    code: Required[int | None]
    error: Required[str | None]
    state: Required[str]


class ReportIn(TypedDict, total=False):
    account_id: Required[int]
    code: int | None
    error: str | None
    state: Required[str]


class SettingsIn(TypedDict, total=False):
    """SIP settings of a new account: the same fields, with login and password required.
    ``template`` prefills the server fields from a server template; fields given here win.
    ``domain`` is required unless a template gives it. The password is write-only: it is
    never returned.
    """
    auth_username: str | None
    codecs: list[Literal["PCMA", "PCMU", "G722", "opus", "telephone-event"]] | None
    display_name: str | None
    domain: str | None
    dtmf_mode: Literal["rfc4733", "info", "inband"] | None
    expires: int | None
    login: Required[str]
    media_encryption: Literal["off", "optional", "required"] | None
    outbound_proxy: str | None
    password: Required[str]
    port: int | None
    record: bool | None
    registrar: str | None
    rewrite_rules: list[list[str]] | None
    template: str | None
    transport: Literal["udp", "tcp", "tls"] | None
    worker: str | None


class SettingsPatch(TypedDict, total=False):
    """Fields to change; absent fields stay. ``null`` clears an optional field (the login,
    password, server, transport, expiry, codecs, DTMF mode and recording cannot be cleared).
    """
    auth_username: str | None
    codecs: list[Literal["PCMA", "PCMU", "G722", "opus", "telephone-event"]]
    display_name: str | None
    domain: str
    dtmf_mode: Literal["rfc4733", "info", "inband"]
    expires: int
    login: str
    media_encryption: Literal["off", "optional", "required"] | None
    outbound_proxy: str | None
    password: str
    port: int | None
    record: bool
    registrar: str | None
    rewrite_rules: list[list[str]] | None
    transport: Literal["udp", "tcp", "tls"]
    worker: str | None


class SubscriptionIn(TypedDict, total=False):
    add: bool
    plan: Required[Literal["free", "softphone", "office", "softphone-start"]]
    seats: int | None
    user: UserNamesIn | None


class SubscriptionOut(TypedDict, total=False):
    entitlements: Required[EntitlementsOut]
    subscriptions: Required[list[PlanOut]]
    user_id: Required[int]


class SyncIn(TypedDict, total=False):
    addresses: list[str] | None
    callers: list[CallerIn] | None
    callers_gone: list[int]
    instance: Required[str]
    name: Required[str]
    reports: list[ReportIn]
    stats: dict[str, int]


class SyncOut(TypedDict, total=False):
    accounts: Required[list[WorkerAccount]]


class TemplateIn(TypedDict, total=False):
    domain: str | None
    dtmf_mode: Literal["rfc4733", "info", "inband"]
    expires: int
    name: Required[str]
    notes: str
    outbound_proxy: str | None
    port: int | None
    registrar: str | None
    tls_port: int | None
    transport: Literal["udp", "tcp", "tls"]


class TemplateOut(TypedDict, total=False):
    builtin: Required[bool]
    domain: Required[str | None]
    dtmf_mode: Required[str]
    expires: Required[int]
    id: Required[str]
    kind: Required[str]
    name: Required[str]
    notes: Required[str]
    outbound_proxy: Required[str | None]
    port: Required[int | None]
    registrar: Required[str | None]
    tls_port: Required[int | None]
    transport: Required[str]


class UserIn(TypedDict, total=False):
    """A Telegram user, by id, with optional names."""
    first_name: str
    id: Required[int]
    language_code: str | None
    username: str | None


class UserNamesIn(TypedDict, total=False):
    """A Telegram user's names, all optional (the bot fills them when the person writes)."""
    first_name: str
    language_code: str | None
    username: str | None


class WebhookCreated(TypedDict, total=False):
    created_at: Required[str]
    enabled: Required[bool]
    events: Required[list[str]]
    id: Required[int]
    secret: Required[str]
    url: Required[str]


class WebhookIn(TypedDict, total=False):
    events: list[Literal["created", "registered", "auth_failed", "assigned", "transferred", "returned", "deleted", "call_started", "call_ended"]]
    url: Required[str]


class WebhookOut(TypedDict, total=False):
    created_at: Required[str]
    enabled: Required[bool]
    events: Required[list[str]]
    id: Required[int]
    url: Required[str]


class WorkerAccount(TypedDict, total=False):
    account_id: Required[int]
    auth_username: Required[str | None]
    codecs: Required[list[str]]
    display_name: Required[str | None]
    domain: Required[str]
    dtmf_mode: Required[str]
    expires: Required[int]
    login: Required[str]
    media_encryption: str
    outbound_proxy: Required[str | None]
    password: Required[str]
    port: Required[int | None]
    record: Required[bool]
    registrar: Required[str | None]
    transport: Required[str]


class WorkerCall(TypedDict, total=False):
    """A call's history row, as the worker running it needs it."""
    account_id: Required[int]
    answered_at: Required[str | None]
    caller: Required[str | None]
    created_at: Required[str]
    direction: Required[str]
    end_reason: Required[str | None]
    ended_at: Required[str | None]
    id: Required[int]
    line: Required[str]
    number: Required[str]
    owner_id: Required[int]
    recording: Required[str | None]
    sip_status: Required[int | None]
    state: Required[str]
    user_id: Required[int]
    worker_id: Required[int | None]


class WorkerIn(TypedDict, total=False):
    """Who asks: the worker's name and the instance its join returned."""
    instance: Required[str]
    name: Required[str]


PUBLIC_OPERATIONS: dict[str, tuple[str, str]] = {
    "assignAccount": ("POST", "/api/v1/accounts/{account_id}/assign"),
    "assignBulkAccounts": ("POST", "/api/v1/accounts/bulk/assign"),
    "createAccount": ("POST", "/api/v1/accounts"),
    "createAccountLink": ("POST", "/api/v1/accounts/{account_id}/links"),
    "createBulkLinks": ("POST", "/api/v1/accounts/bulk/links"),
    "createLink": ("POST", "/api/v1/links"),
    "createOffer": ("POST", "/api/v1/offers"),
    "createTemplate": ("POST", "/api/v1/templates"),
    "createWebhook": ("POST", "/api/v1/webhooks"),
    "deleteAccount": ("DELETE", "/api/v1/accounts/{account_id}"),
    "deleteBulkAccounts": ("POST", "/api/v1/accounts/bulk/delete"),
    "deleteTemplate": ("DELETE", "/api/v1/templates/{template_id}"),
    "deleteWebhook": ("DELETE", "/api/v1/webhooks/{webhook_id}"),
    "disableBulkAccounts": ("POST", "/api/v1/accounts/bulk/disable"),
    "enableBulkAccounts": ("POST", "/api/v1/accounts/bulk/enable"),
    "getAccount": ("GET", "/api/v1/accounts/{account_id}"),
    "getAccountAudit": ("GET", "/api/v1/accounts/{account_id}/audit"),
    "getCall": ("GET", "/api/v1/calls/{call_id}"),
    "getHealth": ("GET", "/healthz"),
    "getLink": ("GET", "/api/v1/links/{link_id}"),
    "getLinkQr": ("GET", "/api/v1/links/{link_id}/qr.png"),
    "getLiveness": ("GET", "/livez"),
    "getMetrics": ("GET", "/metrics"),
    "getOffer": ("GET", "/api/v1/offers/{offer_id}"),
    "getReadiness": ("GET", "/readyz"),
    "getSubscription": ("GET", "/api/v1/users/{user_id}/subscription"),
    "getTemplate": ("GET", "/api/v1/templates/{template_id}"),
    "getWebhook": ("GET", "/api/v1/webhooks/{webhook_id}"),
    "importAccounts": ("POST", "/api/v1/accounts/import"),
    "listAccounts": ("GET", "/api/v1/accounts"),
    "listCalls": ("GET", "/api/v1/calls"),
    "listLinks": ("GET", "/api/v1/links"),
    "listTemplates": ("GET", "/api/v1/templates"),
    "listUnusedAccounts": ("GET", "/api/v1/accounts/unused"),
    "listWebhookDeliveries": ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"),
    "listWebhooks": ("GET", "/api/v1/webhooks"),
    "placeCall": ("POST", "/api/v1/calls"),
    "revokeLink": ("DELETE", "/api/v1/links/{link_id}"),
    "setAccountEnabled": ("PUT", "/api/v1/accounts/{account_id}/enabled"),
    "setAccountOperatorPaid": ("PUT", "/api/v1/accounts/{account_id}/operator-paid"),
    "setSubscription": ("PUT", "/api/v1/users/{user_id}/subscription"),
    "takeBackAccount": ("POST", "/api/v1/accounts/{account_id}/take-back"),
    "updateAccountSettings": ("PATCH", "/api/v1/accounts/{account_id}/settings"),
}


WORKER_OPERATIONS: dict[str, tuple[str, str]] = {
    "workerCallAnswered": ("POST", "/api/v1/worker/calls/{call_id}/answered"),
    "workerCallCommands": ("POST", "/api/v1/worker/calls/commands"),
    "workerCallEnded": ("POST", "/api/v1/worker/calls/{call_id}/ended"),
    "workerCallKeypad": ("POST", "/api/v1/worker/calls/{call_id}/keypad"),
    "workerCallMessage": ("POST", "/api/v1/worker/calls/{call_id}/messages"),
    "workerCallRecording": ("POST", "/api/v1/worker/calls/{call_id}/recording"),
    "workerCallStarted": ("POST", "/api/v1/worker/calls"),
    "workerCallsClaimed": ("POST", "/api/v1/worker/calls/claim"),
    "workerCallsOrphaned": ("POST", "/api/v1/worker/calls/orphans"),
    "workerCheck": ("POST", "/api/v1/worker/check"),
    "workerJoin": ("POST", "/api/v1/worker/join"),
    "workerLeave": ("POST", "/api/v1/worker/leave"),
    "workerSync": ("POST", "/api/v1/worker/sync"),
}
