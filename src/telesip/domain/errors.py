"""Every error telesip raises on purpose, each with a stable ``code`` and a message a person reads.

The bot and the API translate ``code`` (with ``params``) in one place each; the English
``message`` here is the fallback and what the CLI prints. Library errors (SQLAlchemy, asyncpg,
aiogram, OS) are translated at the adapter boundary with ``raise ... from exc``.

    TelesipError
    ├── DomainError                    a rule said no; nothing was changed
    │   ├── NotFound           account_not_found, offer_not_found, link_not_found,
    │   │                      user_not_found
    │   ├── PermissionDenied   not_owner, assigned_user, not_recipient, own_offer
    │   ├── OfferError         offer_expired, offer_already_received, offer_replaced,
    │   │                      offer_cancelled
    │   ├── LinkError          link_used, link_expired, link_revoked
    │   ├── BillingError       seats_exhausted, method_not_allowed, unknown_plan
    │   ├── PasswordError      wrong_password, too_many_attempts
    │   └── InvalidInput       invalid_settings
    │       └── StateConflict  not_assigned, managed_by_link, already_yours
    ├── StaleWrite             precondition_failed: written against an old version
    ├── ConflictError          concurrent change; the caller may retry
    ├── StorageUnavailable     the database cannot be reached
    ├── ConfigError            bad configuration (database URL, key file)
    └── BackupError            a backup cannot be written or restored (backup_failed)
"""

from __future__ import annotations

from typing import Any, ClassVar


class TelesipError(Exception):
    """Root of every telesip error."""

    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "Something went wrong."

    def __init__(self, message: str | None = None, **params: Any) -> None:
        self.message = message or self.default_message.format(**params)
        self.params = params
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class DomainError(TelesipError):
    code = "domain_error"


class NotFound(DomainError):
    code = "not_found"
    default_message = "Not found."


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "SIP account #{account_id} does not exist (it may have been deleted)."


class OfferNotFound(NotFound):
    code = "offer_not_found"
    default_message = "This offer does not exist."


class LinkNotFound(NotFound):
    code = "link_not_found"
    default_message = "This settings link does not exist."


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "Telegram user {user_id} is not known to this service yet."


class PermissionDenied(DomainError):
    code = "permission_denied"
    default_message = "You may not do that."


class NotOwner(PermissionDenied):
    code = "not_owner"
    default_message = "Only the owner of SIP account #{account_id} may do that."


class AssignedUserLimit(PermissionDenied):
    code = "assigned_user"
    default_message = (
        "SIP account #{account_id} is assigned to you for calls; its owner manages it."
    )


class NotRecipient(PermissionDenied):
    code = "not_recipient"
    default_message = "This offer is meant for someone else."


class OwnOffer(PermissionDenied):
    code = "own_offer"
    default_message = "You cannot receive your own offer; send it to someone else."


class OfferError(DomainError):
    code = "offer_error"


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


class LinkError(DomainError):
    code = "link_error"


class LinkUsed(LinkError):
    code = "link_used"
    default_message = "This settings link has already been used."


class LinkExpired(LinkError):
    code = "link_expired"
    default_message = "This settings link has expired."


class LinkRevoked(LinkError):
    code = "link_revoked"
    default_message = "This settings link was revoked."


class BillingError(DomainError):
    code = "billing_error"


class SeatsExhausted(BillingError):
    code = "seats_exhausted"
    default_message = (
        "No free seats (paid SIP accounts your plans allow: {limit}). "
        "Free a seat or ask your operator for a larger plan."
    )


class MethodNotAllowed(BillingError):
    code = "method_not_allowed"
    default_message = "Your plan does not allow this (assigning users needs the office plan)."


class UnknownPlan(BillingError):
    code = "unknown_plan"
    default_message = "Unknown plan {plan!r}; known plans: {known}."


class PasswordError(DomainError):
    code = "password_error"


class WrongPassword(PasswordError):
    code = "wrong_password"
    default_message = "Wrong password."


class TooManyAttempts(PasswordError):
    code = "too_many_attempts"
    default_message = "Too many wrong passwords. Try again later (minutes to wait: {minutes})."


class InvalidInput(DomainError):
    code = "invalid_input"
    default_message = "Invalid input."


class InvalidSettings(InvalidInput):
    code = "invalid_settings"
    default_message = "Invalid SIP settings: {reason}"


class StateConflict(InvalidInput):
    """The request is well formed but the account's current state refuses it (HTTP 409)."""

    code = "state_conflict"
    default_message = "That does not fit the current state."


class NotAssigned(StateConflict):
    code = "not_assigned"
    default_message = "SIP account #{account_id} is not assigned to anyone."


class ManagedByLink(StateConflict):
    code = "managed_by_link"
    default_message = (
        "SIP account #{account_id} is handed out by a settings link; manage it in /links."
    )


class AlreadyYours(StateConflict):
    code = "already_yours"
    default_message = "SIP account #{account_id} is already yours."


class StaleWrite(TelesipError):
    """A write made against a version that is no longer current (HTTP 412 with If-Match)."""

    code = "precondition_failed"
    default_message = "SIP account #{account_id} changed since it was read; read it again."


class ConflictError(TelesipError):
    code = "conflict"
    default_message = "Someone changed this at the same moment; please try again."


class StorageUnavailable(TelesipError):
    code = "storage_unavailable"
    default_message = "The database is not reachable right now; please try again later."


class ConfigError(TelesipError):
    code = "config_error"
    default_message = "Configuration error: {reason}"


class BackupError(TelesipError):
    code = "backup_failed"
    default_message = "{reason}"
