"""The database schema as SQLAlchemy Core tables; Alembic migrations are written against it.

Times are stored as naive UTC (:class:`UTCDateTime`) so SQLite and PostgreSQL compare them the
same way. Passwords are stored only encrypted (``password_enc``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored naive in UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite in raw statements
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrement needs INTEGER

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # Telegram user id
    Column("first_name", String(128), nullable=False, server_default=""),
    Column("username", String(64)),
    Column("language_code", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("plan", String(32), nullable=False),
    Column("seats", Integer),  # NULL: unlimited
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_subscriptions_user", "user_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("owner_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("payer", String(16), nullable=False),
    Column("via_link", Boolean, nullable=False, server_default=text("false")),
    Column("login", String(128), nullable=False),
    Column("password_enc", LargeBinary, nullable=False),
    Column("auth_username", String(128)),
    Column("domain", String(255), nullable=False),
    Column("registrar", String(255)),
    Column("outbound_proxy", String(255)),
    Column("transport", String(8), nullable=False),
    Column("port", Integer),
    Column("expires", Integer, nullable=False),
    Column("display_name", String(64)),
    Column("codecs", String(128), nullable=False),
    Column("dtmf_mode", String(16), nullable=False),
    Column("rewrite_rules", JSON, nullable=False),
    Column("worker", String(64)),
    Column("record", Boolean, nullable=False, server_default=text("false")),  # calls_0002
    Column("media_encryption", String(16)),  # calls_0003; NULL: the transport's default
    Column("identity", String(400), nullable=False),  # login@domain:port, lower case (R11)
    Column("reg_state", String(16), nullable=False, server_default="unknown"),
    Column("reg_code", Integer),
    Column("reg_error", String(255)),
    Column("reg_changed_at", UTCDateTime),
    Column("reg_next_retry_at", UTCDateTime),
    Column("version", Integer, nullable=False, server_default="1"),  # bumped on SIP changes
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_accounts_owner", "owner_id"),
    Index("ix_accounts_user", "user_id"),
    # SQLite's only: PostgreSQL finds a line in the two partial indexes below, which hold every
    # row between them (enabled, not enabled), so there it was an index entry more for every
    # move of an account and nothing else (core_0004); SQLite writes ``enabled`` as
    # ``enabled = 1``, which cannot use the partial index on ``enabled``
    Index("ix_accounts_identity", "identity", info={"dialects": ("sqlite",)}).ddl_if(
        dialect="sqlite"
    ),
    # R11: one enabled copy of a line, under any concurrency (acc_0001)
    Index(
        "ux_accounts_line_enabled",
        "identity",
        unique=True,
        sqlite_where=text("enabled"),
        postgresql_where=text("enabled"),
    ),
    Index("ix_accounts_updated", "updated_at"),  # workers poll for changes
    # the disabled copies of lines: the duplicate flag of listings (acc_0002)
    Index(
        "ix_accounts_identity_disabled",
        "identity",
        sqlite_where=text("enabled = 0"),
        postgresql_where=text("NOT enabled"),
    ),
)

offers = Table(
    "offers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("sender_id", BigInteger, nullable=False),
    Column("method", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("only_for_id", BigInteger),
    Column("recipient_id", BigInteger),
    Column("inline_message_id", String(128)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("token", String(32), unique=True),  # deep link to receive it in the bot
    # R3: one pending offer per account, enforced by the database itself
    Index(
        "uq_offers_pending_account",
        "account_id",
        unique=True,
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
    Index("ix_offers_account_state", "account_id", "state"),
    # the offer a message carries (inline mode; core_0004): offers on no message are not in it
    Index(
        "ix_offers_inline_message",
        "inline_message_id",
        sqlite_where=text("inline_message_id IS NOT NULL"),
        postgresql_where=text("inline_message_id IS NOT NULL"),
    ),
)

links = Table(
    "links",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("token", String(64), nullable=False, unique=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_by", BigInteger),
    Column("used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Index("ix_links_owner", "owner_id"),
    Index("ix_links_account", "account_id"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_id", BigInteger),  # NULL: the operator
    Column("account_id", BigInteger),  # no foreign key: the record outlives the account
    Column("action", String(32), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_audit_account", "account_id", "id"),
    # workers read which accounts were deleted since a moment; only those rows are in it
    # (core_0004: an index of every record's time was three entries a transfer cycle)
    Index(
        "ix_audit_deleted",
        "at",
        sqlite_where=text("action = 'deleted'"),
        postgresql_where=text("action = 'deleted'"),
    ),
)

guesses = Table(
    "guesses",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, primary_key=True, autoincrement=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("free_steps", Integer, nullable=False),
    Column("last_hash", LargeBinary),
    Column("last_prefix_hash", LargeBinary),
    Column("locked_until", UTCDateTime),
)

# --- operators' HTTP API (migration api_0001) -------------------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("operator", String(64), nullable=False),  # who holds it; owns templates and webhooks
    Column("name", String(64), nullable=False, server_default=""),
    Column("prefix", String(16), nullable=False),  # shown in listings to tell keys apart
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 of the whole key
    Column("scope", JSON, nullable=False),  # {"all": bool, "users": [...], "accounts": [...]}
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

# The first answer to each POST sent with an Idempotency-Key, kept 24 h so that a retry (from
# any API process) gets it again instead of doing the work twice. ``owner`` is the SHA-256 of the
# request's credential: one key's namespace is its own. ``state`` is "running" (leased until
# ``locked_until``; a crashed process's lease runs out) or "done" (status, headers, body stored).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of method, path, query, body
    Column("state", String(16), nullable=False),
    Column("status", Integer),
    Column("headers", JSON),  # [[name, value], ...] of the stored answer
    Column("body", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

templates = Table(
    "templates",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("operator", String(64)),  # added by an operator (API) ...
    Column("user_id", BigInteger),  # ... or by a Telegram user (bot)
    Column("name", String(64), nullable=False),
    Column("data", JSON, nullable=False),  # server fields only: never a login or password
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_templates_operator", "operator"),
    Index("ix_templates_user", "user_id"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("operator", String(64), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("secret_enc", LargeBinary, nullable=False),  # HMAC key, encrypted at rest
    Column("events", JSON, nullable=False),  # list of event names; empty: all
    Column("scope", JSON, nullable=False),  # the registering key's scope
    Column("since_audit_id", BigInteger, nullable=False),  # only events after registration
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhooks_operator", "operator"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("webhook_id", BigInteger, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("delivery_id", String(36), nullable=False, unique=True),
    Column("audit_id", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime),
    Column("last_status", Integer),
    Column("last_error", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    Index("uq_webhook_deliveries_event", "webhook_id", "audit_id", unique=True),
)

webhook_cursor = Table(
    "webhook_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("audit_id", BigInteger, nullable=False),  # the last audit record fanned out
)

# The Telegram bot's conversation state (aiogram FSM) for installs without Redis. Secrets typed
# into a conversation are stored here only encrypted, and only until the conversation ends.
bot_fsm = Table(
    "bot_fsm",
    metadata,
    Column("key", String(255), primary_key=True),  # bot:chat:user[:thread][:business]:destiny
    Column("state", String(255)),
    Column("data", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Workers hold registrations. A lease is live while its worker's heartbeat is fresh and the
# worker still runs the same instance (a restarted worker gets a new instance, so whatever the
# old process held is free at once). Keeping the liveness on the worker row makes lease upkeep
# one UPDATE per worker per heartbeat, whatever the number of accounts.
workers = Table(
    "workers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("pool", String(64)),  # pinned accounts name the worker or its pool
    Column("remote", Boolean, nullable=False, server_default=text("false")),
    Column("shared", Boolean, nullable=False, server_default=text("true")),  # takes unpinned
    Column("owner_id", BigInteger),  # made in the bot: serves only its owner's accounts
    Column("credential_hash", String(128)),  # remote workers: sha256 of the one-time secret
    Column("instance", String(36)),
    Column("last_seen", UTCDateTime),
    Column("addresses", JSON, nullable=False),  # ["udp:203.0.113.5:5060", ...]
    Column("stats", JSON, nullable=False),  # {"registered": n, "failed": n, ...}
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

leases = Table(
    "leases",
    metadata,
    Column(
        "account_id",
        BigInteger,
        ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("worker_id", BigInteger, ForeignKey("workers.id", ondelete="CASCADE"), nullable=False),
    Column("instance", String(36), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    # the holder's first "registered" report (migration wrk_0002): a hand-over's giver keeps
    # its own registration until then
    Column("registered_at", UTCDateTime),
    Index("ix_leases_worker", "worker_id"),
)

# --- calls (migration calls_0001) -------------------------------------------------------------
# The history of every call, and the channel between the bot/API and the worker that runs it:
# an outgoing call starts as a "requested" row that the worker holding the line claims.
calls = Table(
    "calls",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, nullable=False),  # no foreign key: history outlives lines
    Column("owner_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),  # the Telegram user the call is for
    Column("direction", String(4), nullable=False),
    Column("number", String(64), nullable=False),
    Column("line", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("end_reason", String(16)),
    Column("sip_status", Integer),
    Column("worker_id", BigInteger),
    Column("caller", String(64)),
    Column("recording", String(255)),
    Index("ix_calls_user", "user_id", "id"),
    Index("ix_calls_owner", "owner_id", "id"),
    Index("ix_calls_account", "account_id", "id"),
    Index("ix_calls_state", "state", "account_id"),
)

call_commands = Table(
    "call_commands",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("call_id", BigInteger, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # dtmf, hangup
    Column("arg", String(32), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index("ix_call_commands_pending", "call_id", "done_at"),
)

# Messages to people that a process without the bot (a worker) wants sent; the bot process
# sends them in order, in each person's language, and marks them sent.
bot_outbox = Table(
    "bot_outbox",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # text, keypad, document, drop_keypad
    Column("payload", JSON, nullable=False),  # catalog key + params, file name, call id
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("message_id", BigInteger),  # what Telegram gave the sent message (keypads)
    Index("ix_bot_outbox_due", "sent_at", "next_attempt_at"),
)

# --- telegram (migration tg_0001) -------------------------------------------------------------
# Caller accounts as every process may show them (never their sessions, which stay in files):
# written by `telesip telegram login` and by the worker that connects them, read by the bot.
telegram_callers = Table(
    "telegram_callers",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the Telegram user id
    Column("name", String(128), nullable=False),
    Column("username", String(64)),
    Column("phone", String(20)),  # masked: +7******4567
    Column("updated_at", UTCDateTime, nullable=False),
    # the remote worker whose machine holds it (its sync names it); NULL: the service's own
    Column("worker_id", BigInteger, ForeignKey("workers.id", ondelete="CASCADE")),
)

# --- import (migration imp_0001) --------------------------------------------------------------
# A file sent to the bot waits here between its preview and the Import press, so the press
# works after a restart and in any bot process; one per chat, dropped when used, cancelled or
# expired. ``content`` is the file compressed and encrypted with the service's key (it holds
# passwords); nothing else of the file is stored.
#: Webhook updates answered to Telegram and not yet handled: the bot's journal
#: (bot/app.py QueueingWebhook, services/bot_updates.py). A row lives from its arrival until its
#: handler ends; ``holder`` is the bot process handling it, which touches ``held_at`` while it
#: lives, so a process that died leaves rows another takes over.
bot_updates = Table(
    "bot_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("payload", LargeBinary, nullable=False),  # the update's JSON, sealed (typed passwords)
    Column("holder", String(36), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
)

pending_imports = Table(
    "pending_imports",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, nullable=False),  # who sent it: only they may press Import
    Column("filename", String(255)),
    Column("server", String(300)),  # the PBX's address, from the file's caption
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


def in_schema(obj: Any, dialect: str) -> bool:
    """Whether a table's index is part of the schema on ``dialect`` (an index made for some
    dialects only says which in ``info["dialects"]``, beside its ``ddl_if``): what Alembic's
    comparison of the migrated schema with these tables must leave out."""
    dialects = getattr(obj, "info", {}).get("dialects")
    return dialects is None or dialect in dialects


def include_object_on(dialect: str) -> Any:
    """Alembic's ``include_object`` hook for comparing the schema on ``dialect`` with these
    tables: leaves out what :func:`in_schema` says that dialect does not have."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return reflected or in_schema(obj, dialect)

    return include
