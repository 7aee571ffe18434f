"""SIP passwords are encrypted at rest and never reach audit records, events or errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from telesip.domain import errors
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from telesip.store.crypto import Cipher, load_key

from .helpers import ALICE, BOB, PASSWORD, Recorder, sip


async def test_password_is_encrypted_and_absent_from_audit_and_events(deps: Dependencies) -> None:
    rec = Recorder(deps)
    acc = await accounts.create_account(deps, ALICE, sip())
    await accounts.update_settings(
        deps, ALICE, acc, password=sip(password="n3w-" + PASSWORD).password
    )
    offer = await offers.create_offer(deps, ALICE, acc, offers.Method.UNLINK)
    await offers.receive(deps, BOB, offer.id)
    with pytest.raises(errors.WrongPassword) as exc:
        await offers.transfer_back(deps, ALICE, acc, PASSWORD)
    assert PASSWORD not in str(exc.value)
    async with deps.engine.connect() as conn:
        stored = (await conn.execute(select(t.accounts.c.password_enc))).scalar_one()
        dump = repr((await conn.execute(select(t.audit))).all())
        dump += repr((await conn.execute(select(t.guesses))).all())
    assert PASSWORD.encode() not in stored and b"n3w-" not in stored
    assert deps.cipher.decrypt(stored).reveal() == "n3w-" + PASSWORD
    assert PASSWORD not in dump and "n3w-" not in dump
    assert PASSWORD not in repr(rec.events)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key = load_key(None, tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(None, tmp_path / "data") == key
    token = Cipher(key).encrypt(sip().password)
    assert Cipher(load_key(None, tmp_path / "data")).decrypt(token).reveal() == PASSWORD


def test_wrong_key_and_unreadable_key_file_give_clear_errors(tmp_path: Path) -> None:
    token = Cipher("one key").encrypt(sip().password)
    with pytest.raises(errors.ConfigError) as exc:
        Cipher("another key").decrypt(token)
    assert "TELESIP_SECRET_KEY" in exc.value.message
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(errors.ConfigError):
        load_key(None, tmp_path)
    if os.geteuid() != 0:  # root reads anything
        (tmp_path / "secret.key").chmod(0)
        with pytest.raises(errors.ConfigError):
            load_key(None, tmp_path)
