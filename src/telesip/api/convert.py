"""Between API bodies and service values: settings in, accounts/links/offers out."""

from __future__ import annotations

from typing import Any

from telesip.api import schemas
from telesip.domain import errors
from telesip.domain.model import Offer, SettingsLink, TelegramUser
from telesip.domain.readmodels import AccountSummary
from telesip.domain.settings import AccountSettings, Secret
from telesip.services.accounts import Card
from telesip.services.dependencies import Dependencies
from telesip.services.templates import get_template


def user(u: schemas.UserIn) -> TelegramUser:
    return TelegramUser(u.id, u.first_name, u.username, u.language_code)


def _values(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    if out.get("password") is not None:
        out["password"] = Secret(out["password"])
    if out.get("codecs") is not None:
        out["codecs"] = tuple(out["codecs"])
    if "rewrite_rules" in out:
        out["rewrite_rules"] = tuple(tuple(r) for r in out["rewrite_rules"] or ())
    return out


async def settings(deps: Dependencies, body: schemas.SettingsIn) -> AccountSettings:
    """New-account settings: the template's server fields, then the fields given."""
    given = body.model_dump(exclude_unset=True, exclude={"template"})
    given = {k: v for k, v in given.items() if v is not None}
    fields: dict[str, Any] = {}
    if body.template is not None:
        fields = (await get_template(deps, body.template)).settings_fields()
    fields |= _values(given)
    if not fields.get("domain"):
        raise errors.InvalidSettings(reason="domain (the SIP server) is required")
    return AccountSettings(**fields)


def changes(body: schemas.SettingsPatch) -> dict[str, Any]:
    """The fields a patch changes (its schema refused a null for a field that cannot be
    cleared, with that field's pointer)."""
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise errors.InvalidInput("nothing to change")
    return _values(given)


def account(a: AccountSummary, card: Card | None = None) -> schemas.AccountOut:
    pending = card.pending_offer if card else None
    return schemas.AccountOut(
        id=a.id,
        owner_id=a.owner_id,
        user_id=a.user_id,
        owner_label=a.owner_label,
        user_label=a.user_label,
        assigned=a.assigned,
        enabled=a.enabled,
        payer=a.payer.value,
        via_link=a.via_link,
        duplicate=a.duplicate,
        registration=schemas.Registration(state=a.reg_state, code=a.reg_code, error=a.reg_error),
        login=a.login,
        domain=a.domain,
        transport=a.transport,
        port=a.port,
        worker=a.worker,
        settings=card.settings if card else None,
        pending_offer=(
            schemas.PendingOffer(
                id=pending.id, method=pending.method.value, expires_at=pending.expires_at
            )
            if pending
            else None
        ),
    )


def link(x: SettingsLink, url: str | None, now: Any, *, with_qr: bool = False) -> schemas.LinkOut:
    state = x.state
    if state == "active" and now >= x.expires_at:
        state = "expired"
    live_url = url if state == "active" else None
    return schemas.LinkOut(
        id=x.id,
        account_id=x.account_id,
        owner_id=x.owner_id,
        state=state,
        url=live_url,
        created_at=x.created_at,
        expires_at=x.expires_at,
        used_by=x.used_by,
        used_at=x.used_at,
        revoked_at=x.revoked_at,
        qr_png=schemas.qr_png_base64(live_url) if with_qr and live_url else None,
    )


def offer(o: Offer, url: str | None = None) -> schemas.OfferOut:
    return schemas.OfferOut(
        url=url,
        id=o.id,
        account_id=o.account_id,
        sender_id=o.sender_id,
        method=o.method.value,
        kind=o.kind.value,
        state=o.state.value,
        created_at=o.created_at,
        expires_at=o.expires_at,
        recipient_id=o.recipient_id,
    )
