"""api/errors.py maps the one error tree (domain/errors.py) to HTTP statuses, by its classes
only: every error a request can cause has a 4xx or 503; new errors cannot slip through as 500."""

from __future__ import annotations

from telesip.api.errors import STATUS, status_of_code
from telesip.domain import errors

#: never raised in a request (kinds without a code of their own in the API, the CLI's errors)
NO_STATUS = {"TelesipError", "DomainError", "PasswordError", "ConfigError", "BackupError"}


def _tree() -> list[type[errors.TelesipError]]:
    return [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, errors.TelesipError)
    ]


def test_the_table_is_keyed_on_the_tree() -> None:
    assert all(cls.__module__ == errors.__name__ for cls in STATUS)


def test_every_error_has_a_status() -> None:
    statuses = {cls.__name__: status_of_code(cls.code) for cls in _tree()}
    assert {name for name, status in statuses.items() if status == 500} == NO_STATUS
    assert all(s is not None and (400 <= s < 500 or s in (500, 503)) for s in statuses.values())
    assert statuses["OfferExpired"] == 410 and statuses["NotFound"] == 404
    assert statuses["InvalidApiKey"] == statuses["MissingCredential"] == 401
