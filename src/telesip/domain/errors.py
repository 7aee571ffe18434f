"""Every error telesip raises for a person to read: one tree, each error with a stable ``code``
and an English ``message``.

The bot and the API translate ``code`` (with ``params``) in one place each (``bot/locales.py``
and the message catalog; ``api/errors.py`` maps the kinds to HTTP statuses); the English
``message`` here is the fallback and what the CLI prints. Library errors (SQLAlchemy, asyncpg,
aiogram, OS) are translated at the adapter boundary with ``raise ... from exc``. The protocol
layers (``sip``, ``media``, the calls' Telegram side) raise errors of their own, outside this
tree (they share only its shape, ``CodedError``: a code and a message): a handler of the bot or
the API never sees one; where a person must hear of one, the adapter that caught it says so
(the bridge ends the call and tells a call notice, ``domain.calls.CALL_NOTICES``).

The file is laid out in sections: first the kinds (what went wrong, whatever it concerns: the
API's status follows from the kind), then one section per subject (accounts, offers, links,
plans, calls, operators, fleet, system). Every class is defined here and drawn below
(``tests/core/test_errors.py`` checks both):

    TelesipError                      error
    ├── DomainError                   domain_error: a rule said no; nothing was changed
    │   ├── NotFound                  not_found
    │   │   ├── AccountNotFound       account_not_found
    │   │   ├── UserNotFound          user_not_found
    │   │   ├── TemplateNotFound      template_not_found
    │   │   ├── OfferNotFound         offer_not_found
    │   │   ├── LinkNotFound          link_not_found
    │   │   ├── CallNotFound          call_not_found
    │   │   ├── ApiKeyNotFound        api_key_not_found
    │   │   └── WebhookNotFound       webhook_not_found
    │   ├── PermissionDenied          permission_denied
    │   │   ├── NotOwner              not_owner
    │   │   ├── AssignedUserLimit     assigned_user
    │   │   ├── NotRecipient          not_recipient
    │   │   ├── OwnOffer              own_offer
    │   │   ├── NoLines               no_lines
    │   │   ├── NotYourLine           not_your_line
    │   │   ├── LineDisabled          line_disabled
    │   │   ├── OutOfScope            out_of_scope
    │   │   └── WorkerRefused         worker_refused
    │   ├── OfferError                offer_error
    │   │   ├── OfferExpired          offer_expired
    │   │   ├── OfferAlreadyReceived  offer_already_received
    │   │   ├── OfferReplaced         offer_replaced
    │   │   └── OfferCancelled        offer_cancelled
    │   ├── LinkError                 link_error
    │   │   ├── LinkUsed              link_used
    │   │   ├── LinkExpired           link_expired
    │   │   └── LinkRevoked           link_revoked
    │   ├── BillingError              billing_error
    │   │   ├── SeatsExhausted        seats_exhausted
    │   │   ├── SeatsMissing          seats_missing
    │   │   ├── MethodNotAllowed      method_not_allowed
    │   │   └── UnknownPlan           unknown_plan
    │   ├── PasswordError             password_error
    │   │   ├── WrongPassword         wrong_password
    │   │   └── TooManyAttempts       too_many_attempts
    │   └── InvalidInput              invalid_input
    │       ├── StateConflict         state_conflict: the account's state refuses it
    │       │   ├── NotAssigned       not_assigned
    │       │   ├── ManagedByLink     managed_by_link
    │       │   ├── ImportGone        import_gone
    │       │   ├── AlreadyYours      already_yours
    │       │   ├── SelectionChanged  selection_changed: a bulk change confirmed for other accounts
    │       │   └── LineConnected     line_connected: another copy registers this line (R11)
    │       ├── InvalidSettings       invalid_settings
    │       ├── NotAPhoneNumber       not_a_phone_number
    │       ├── BadAssignments        bad_assignments: a bulk assignment file refused whole
    │       └── KeyReused             idempotency_key_reused
    ├── StaleWrite                    precondition_failed: written against an old version
    ├── ConflictError                 conflict: a concurrent change; the caller may retry
    │   ├── LineBusy                  line_busy
    │   └── KeyInProgress             idempotency_in_progress
    ├── InvalidApiKey                 invalid_api_key: missing, unknown or revoked API key
    ├── InitDataRejected              init_data_rejected: Mini App sign-in forged or stale
    ├── MissingCredential             missing_credential: a worker sent no credential
    ├── StorageUnavailable            storage_unavailable: the database cannot be reached
    │   └── StorageFull               storage_full: the database's disk is full; writes fail
    ├── ConfigError                   config_error: bad configuration (database URL, key file)
    └── BackupError                   backup_failed: a backup cannot be written or restored
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

# -- The kinds: what went wrong, whatever it concerns (the API's status follows from the kind) ----


class CodedError(Exception):
    """The shape of every exception telesip raises on purpose: a stable ``code`` and an English
    ``message`` made of ``default_message`` and ``params``. Its children are this tree's root and
    the protocol layers' roots (``SipError``, ``MediaError``, ``TelegramError``); only a place
    that shows any failure as one line (the CLI, a log) catches it whole."""

    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "Something went wrong."

    def __init__(self, message: str | None = None, **params: Any) -> None:
        self.message = message or self.default_message.format(**params)
        self.params = params
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class TelesipError(CodedError):
    """Root of every error a person reads."""


class DomainError(TelesipError):
    code = "domain_error"


class NotFound(DomainError):
    code = "not_found"
    default_message = "Not found."


class PermissionDenied(DomainError):
    code = "permission_denied"
    default_message = "You may not do that."


class OfferError(DomainError):
    code = "offer_error"


class LinkError(DomainError):
    code = "link_error"


class BillingError(DomainError):
    code = "billing_error"


class PasswordError(DomainError):
    code = "password_error"


class InvalidInput(DomainError):
    code = "invalid_input"
    default_message = "Invalid input."


class StateConflict(InvalidInput):
    """The request is well formed but the account's current state refuses it (HTTP 409)."""

    code = "state_conflict"
    default_message = "That does not fit the current state."


class StaleWrite(TelesipError):
    """A write made against a version that is no longer current (HTTP 412 with If-Match)."""

    code = "precondition_failed"
    default_message = "SIP account #{account_id} changed since it was read; read it again."


class ConflictError(TelesipError):
    code = "conflict"
    default_message = "Someone changed this at the same moment; please try again."


# -- Accounts: SIP accounts, their owners and users, their settings and server templates ----------


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "SIP account #{account_id} does not exist (it may have been deleted)."


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "Telegram user {user_id} is not known to this service yet."


class NotOwner(PermissionDenied):
    code = "not_owner"
    default_message = "Only the owner of SIP account #{account_id} may do that."


class AssignedUserLimit(PermissionDenied):
    code = "assigned_user"
    default_message = (
        "SIP account #{account_id} is assigned to you for calls; its owner manages it."
    )


class InvalidSettings(InvalidInput):
    code = "invalid_settings"
    default_message = "Invalid SIP settings: {reason}"


class NotAssigned(StateConflict):
    code = "not_assigned"
    default_message = "SIP account #{account_id} is not assigned to anyone."


class ManagedByLink(StateConflict):
    code = "managed_by_link"
    default_message = (
        "SIP account #{account_id} is handed out by a settings link; manage it in /links."
    )


class ImportGone(StateConflict):
    """The Import press finds no pending file: imported, cancelled, replaced or expired."""

    code = "import_gone"
    default_message = (
        "This import is no longer waiting (it was imported, cancelled or has expired); send "
        "the file again."
    )


class AlreadyYours(StateConflict):
    code = "already_yours"
    default_message = "SIP account #{account_id} is already yours."


class SelectionChanged(StateConflict):
    """A bulk change was confirmed for ``expected`` accounts, but the selection now holds
    ``count`` (accounts were added, changed or deleted meanwhile): nothing was changed."""

    code = "selection_changed"
    default_message = (
        "The selection now holds {count} accounts, not the {expected} confirmed: nothing was "
        "changed. Look at the accounts again and confirm."
    )


class LineConnected(StateConflict):
    """R11: a line registers once; enabling a second copy of it is refused. Says nothing of
    who holds the other copy."""

    code = "line_connected"
    default_message = (
        "SIP account {sip} is already connected in telesip (another copy of it is enabled and "
        "registers it). One copy registers at a time: disable or delete the other copy first."
    )


class TemplateNotFound(NotFound):
    code = "template_not_found"
    default_message = "Server template {template_id!r} does not exist."


# -- Offers: handing an account to someone, and the transfer back with the SIP password -----------


class OfferNotFound(NotFound):
    code = "offer_not_found"
    default_message = "This offer does not exist."


class NotRecipient(PermissionDenied):
    code = "not_recipient"
    default_message = "This offer is meant for someone else."


class OwnOffer(PermissionDenied):
    code = "own_offer"
    default_message = "You cannot receive your own offer; send it to someone else."


class OfferExpired(OfferError):
    code = "offer_expired"
    default_message = "This offer has expired. Ask the sender to transfer the account again."


class OfferAlreadyReceived(OfferError):
    code = "offer_already_received"
    default_message = "This offer has already been received."


class OfferReplaced(OfferError):
    code = "offer_replaced"
    default_message = "This offer was replaced by a newer one."


class OfferCancelled(OfferError):
    code = "offer_cancelled"
    default_message = "This offer was cancelled."


class WrongPassword(PasswordError):
    code = "wrong_password"
    default_message = "Wrong password."


class TooManyAttempts(PasswordError):
    code = "too_many_attempts"
    default_message = "Too many wrong passwords. Try again later (minutes to wait: {minutes})."


# -- Links: settings links ------------------------------------------------------------------------


class LinkNotFound(NotFound):
    code = "link_not_found"
    default_message = "This settings link does not exist."


class LinkUsed(LinkError):
    code = "link_used"
    default_message = "This settings link has already been used."


class LinkExpired(LinkError):
    code = "link_expired"
    default_message = "This settings link has expired."


class LinkRevoked(LinkError):
    code = "link_revoked"
    default_message = "This settings link was revoked."


# -- Plans: seats and what a plan allows ----------------------------------------------------------


class SeatsExhausted(BillingError):
    code = "seats_exhausted"
    default_message = (
        "No free seats (paid SIP accounts your plans allow: {limit}). "
        "Free a seat or ask your operator for a larger plan."
    )


class SeatsMissing(BillingError):
    """A bulk operation (an import) needs more seats than are free: nothing was done."""

    code = "seats_missing"
    default_message = (
        "Not enough free seats for this import (needed: {needed}, free: {free}, missing: "
        "{missing}). Nothing was imported: free seats or ask your operator for a larger plan."
    )


class MethodNotAllowed(BillingError):
    code = "method_not_allowed"
    default_message = "Your plan does not allow this (assigning users needs the office plan)."


class UnknownPlan(BillingError):
    code = "unknown_plan"
    default_message = "Unknown plan {plan!r}; known plans: {known}."


# -- Calls: what a person asks of a call (the SIP, media and Telegram sides raise their own
#    errors, translated where a person must hear of them) -----------------------------------------


class NotAPhoneNumber(InvalidInput):
    code = "not_a_phone_number"
    default_message = (
        "{text!r} is not a phone number: use digits, with an optional leading +, and * or #."
    )


class CallNotFound(NotFound):
    code = "call_not_found"
    default_message = "This call does not exist or has ended."


class NoLines(PermissionDenied):
    code = "no_lines"
    default_message = (
        "You have no enabled SIP account to call from. Connect or enable one in /softphone."
    )


class NotYourLine(PermissionDenied):
    code = "not_your_line"
    default_message = (
        "You do not call through SIP account #{account_id}; pick one of yours in /softphone."
    )


class LineDisabled(PermissionDenied):
    code = "line_disabled"
    default_message = "SIP account #{account_id} is disabled; enable it to call."


class LineBusy(ConflictError):
    code = "line_busy"
    default_message = "You already have a call in progress on this line."


# -- Operators: API keys, their scope, webhooks, idempotency keys ---------------------------------


class InvalidApiKey(TelesipError):
    """A missing, unknown or revoked key (HTTP 401)."""

    code = "invalid_api_key"
    default_message = "Missing, unknown or revoked API key; send 'Authorization: Bearer <key>'."


class InitDataRejected(TelesipError):
    """The Mini App's Telegram ``initData`` is missing, forged, malformed or stale (HTTP 401)."""

    code = "init_data_rejected"
    default_message = (
        "Telegram's sign-in data for this page is {reason}; close the page and open it again "
        "from the bot."
    )


class OutOfScope(PermissionDenied):
    code = "out_of_scope"
    default_message = "This API key does not manage {what}."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    default_message = "API key {key_id} does not exist."


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    default_message = "Webhook {webhook_id} does not exist."


class BadAssignments(InvalidInput):
    """A bulk assignment (a file of account, Telegram user) refused as a whole: nothing was
    assigned. ``reason`` is a key of ``REASONS``; ``line`` the file's line (0: the file);
    ``value`` the cell concerned (an account's #id or login, a user id or @username: the file
    holds no password)."""

    code = "bad_assignments"
    #: every reason -> its English text (the catalog words it as ``assign.<reason>``)
    REASONS: ClassVar[Mapping[str, str]] = {
        "empty": "The file holds no assignments.",
        "too_many": "The file has more than {limit} rows; split it into smaller files.",
        "too_large": "The file is larger than {limit} bytes; split it into smaller files.",
        "line_too_long": "The line is longer than {limit} characters; is this the right file?",
        "bad_encoding": "The file is not readable text; save it as CSV (UTF-8) and send it again.",
        "not_text": "This is a {kind} file, not text; save the table as CSV (UTF-8) and send that.",
        "bad_row": (
            "expected two values: the account (#id or login) and the Telegram user (numeric id"
            " or @username)."
        ),
        "bad_user": "{value} is not a Telegram user id (digits) or an @username.",
        "unknown_account": "{value} is not one of your SIP accounts.",
        "ambiguous_account": "several of your SIP accounts have the login {value}; use its #id.",
        "unknown_user": (
            "Telegram user {value} has not started the bot yet: ask them to send /start to the"
            " bot, then send the file again."
        ),
        "repeated": "account {value} is in the file twice.",
    }

    def __init__(self, reason: str, *, line: int = 0, **params: Any) -> None:
        text = self.REASONS[reason].format(**params)
        where = f"line {line}: " if line else ""
        super().__init__(f"Nothing was assigned: {where}{text}", reason=reason, line=line, **params)


class KeyReused(InvalidInput):
    code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was used with another request; use a new key for a new request."
    )


class KeyInProgress(ConflictError):
    code = "idempotency_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed."


# -- Fleet: workers and their control plane -------------------------------------------------------


class WorkerRefused(PermissionDenied):
    code = "worker_refused"
    default_message = "Worker {name!r} is {reason}; it may not hold registrations."
    #: every ``reason`` it is given (in the words of the English message) -> the catalog key the
    #: bot words it with (tests/bot/test_catalog.py checks both sides)
    REASONS: ClassVar[Mapping[str, str]] = {
        "unknown": "refusal.unknown",
        "revoked": "refusal.revoked",
        "a remote worker (start it with --control-url)": "refusal.remote",
        "not authenticated": "refusal.unauthenticated",
        "running elsewhere (another instance joined)": "refusal.elsewhere",
    }


class MissingCredential(TelesipError):
    """A control-plane request without ``Authorization: Bearer <credential>`` (HTTP 401)."""

    code = "missing_credential"
    default_message = "Send the worker's credential as 'Authorization: Bearer <credential>'."


# -- System: the database, configuration, backups -------------------------------------------------


class StorageUnavailable(TelesipError):
    code = "storage_unavailable"
    default_message = "The database is not reachable right now; please try again later."


class StorageFull(StorageUnavailable):
    """The database's disk is full (SQLite's SQLITE_FULL, PostgreSQL's disk_full 53100, ENOSPC):
    a write failed and changed nothing; reads still work. A kind of ``StorageUnavailable``, so
    whatever waits out an unreachable database (the workers' loops) waits this out too; it is
    over when the operator frees space, with no restart."""

    code = "storage_full"
    default_message = (
        "The server's disk is full, so nothing was saved; please tell the operator and try again"
        " later."
    )


class ConfigError(TelesipError):
    code = "config_error"
    default_message = "Configuration error: {reason}"


class BackupError(TelesipError):
    code = "backup_failed"
    default_message = "{reason}"
