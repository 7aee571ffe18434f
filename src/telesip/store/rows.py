"""Row <-> domain object conversion, kept apart from the queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Row

from telesip.domain.model import (
    Account,
    Method,
    Offer,
    OfferKind,
    OfferState,
    Payer,
    RegState,
    SettingsLink,
)
from telesip.domain.settings import AccountSettings, Secret


def settings_values(settings: AccountSettings) -> dict[str, Any]:
    """Column values for the settings, without the password (encrypted by the caller)."""
    return {
        "login": settings.login,
        "auth_username": settings.auth_username,
        "domain": settings.domain,
        "registrar": settings.registrar,
        "outbound_proxy": settings.outbound_proxy,
        "transport": settings.transport,
        "port": settings.port,
        "expires": settings.expires,
        "display_name": settings.display_name,
        "codecs": ",".join(settings.codecs),
        "dtmf_mode": settings.dtmf_mode,
        "rewrite_rules": [list(r) for r in settings.rewrite_rules],
        "worker": settings.worker,
        "record": settings.record,
        "media_encryption": settings.media_encryption,
        "identity": settings.identity,
    }


def settings_from_row(row: Row[Any], password: Secret) -> AccountSettings:
    m = row._mapping
    return AccountSettings(
        login=m["login"],
        password=password,
        domain=m["domain"],
        auth_username=m["auth_username"],
        registrar=m["registrar"],
        outbound_proxy=m["outbound_proxy"],
        transport=m["transport"],
        port=m["port"],
        expires=m["expires"],
        display_name=m["display_name"],
        codecs=tuple(c for c in m["codecs"].split(",") if c),
        dtmf_mode=m["dtmf_mode"],
        rewrite_rules=tuple((str(a), str(b)) for a, b in m["rewrite_rules"]),
        worker=m["worker"],
        record=bool(m["record"]),
        media_encryption=m["media_encryption"],
    )


def account_from_row(row: Row[Any], password: Secret, duplicate: bool = False) -> Account:
    m = row._mapping
    return Account(
        id=m["id"],
        owner_id=m["owner_id"],
        user_id=m["user_id"],
        settings=settings_from_row(row, password),
        enabled=m["enabled"],
        payer=Payer(m["payer"]),
        via_link=m["via_link"],
        duplicate=duplicate,
        reg_state=RegState(m["reg_state"]),
        reg_code=m["reg_code"],
        reg_error=m["reg_error"],
        reg_changed_at=m["reg_changed_at"],
        created_at=m["created_at"],
    )


def offer_from_row(row: Row[Any]) -> Offer:
    return offer_from_row_values(row._mapping)


def offer_from_row_values(m: Mapping[Any, Any]) -> Offer:
    return Offer(
        id=m["id"],
        account_id=m["account_id"],
        sender_id=m["sender_id"],
        method=Method(m["method"]),
        kind=OfferKind(m["kind"]),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        state=OfferState(m["state"]),
        only_for_id=m["only_for_id"],
        recipient_id=m["recipient_id"],
        decided_at=m["decided_at"],
        inline_message_id=m["inline_message_id"],
        token=m["token"],
    )


def link_from_row(row: Row[Any]) -> SettingsLink:
    m = row._mapping
    return SettingsLink(
        id=m["id"],
        token=m["token"],
        account_id=m["account_id"],
        owner_id=m["owner_id"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        used_by=m["used_by"],
        used_at=m["used_at"],
        revoked_at=m["revoked_at"],
    )
