"""The account table's rows: search, sort and one page of an owner's accounts (pure).

The rows are what /softphone lists (R1, ``services.accounts.softphone``); this module only
orders and cuts them, so the table can never show more than the bot would. A thousand rows are
filtered and sorted in memory in about a millisecond; a page holds ``PAGE_SIZE`` of them so the
HTML stays small on a phone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telesip.domain.errors import InvalidInput
from telesip.domain.readmodels import AccountSummary

__all__ = ["PAGE_SIZE", "SORTS", "Page", "Query", "last_error", "parse_query", "select"]

PAGE_SIZE = 100
MAX_SEARCH = 100


def last_error(a: AccountSummary) -> str:
    """The last registration failure, as the worker reported it (empty when none)."""
    if a.reg_error:
        return f"{a.reg_code} {a.reg_error}" if a.reg_code else a.reg_error
    return str(a.reg_code) if a.reg_code and a.reg_code >= 300 else ""


def _state_key(a: AccountSummary) -> tuple[bool, str, int]:
    return (not a.enabled, a.reg_state, a.id)


#: column name -> sort key; every key ends with the id so the order is total (stable pages)
SORTS: dict[str, Callable[[AccountSummary], Any]] = {
    "id": lambda a: a.id,
    "account": lambda a: (a.login.lower(), a.domain.lower(), a.id),
    "state": _state_key,
    "user": lambda a: (not a.assigned, a.user_label.lower(), a.id),
    "payer": lambda a: (a.payer.value, a.id),
    "error": lambda a: (last_error(a) == "", last_error(a).lower(), a.id),
}


@dataclass(frozen=True)
class Query:
    search: str = ""
    sort: str = "id"
    descending: bool = False
    page: int = 0


def parse_query(params: Mapping[str, str]) -> Query:
    """The table's query string (``q``, ``sort``, ``dir``, ``page``) or InvalidInput."""
    sort = params.get("sort", "id")
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    direction = params.get("dir", "asc")
    if direction not in ("asc", "desc"):
        raise InvalidInput("dir must be asc or desc")
    page = params.get("page", "0")
    if not page.isdigit() or len(page) > 6:
        raise InvalidInput("page must be a number from 0")
    search = params.get("q", "").strip()
    if len(search) > MAX_SEARCH:
        raise InvalidInput(f"search is at most {MAX_SEARCH} characters")
    return Query(search, sort, direction == "desc", int(page))


@dataclass(frozen=True)
class Page:
    rows: Sequence[AccountSummary]
    matching: int  # rows the search kept
    total: int  # the owner's accounts
    query: Query
    pages: int

    @property
    def first(self) -> int:
        return self.query.page * PAGE_SIZE


def _haystack(a: AccountSummary, payer_text: Callable[[AccountSummary], str]) -> str:
    user = a.user_label if a.assigned else ""
    return f"#{a.id} {a.login}@{a.domain} {user} {payer_text(a)} {a.reg_state} {last_error(a)}"


def select(
    accounts: Sequence[AccountSummary],
    query: Query,
    *,
    payer_text: Callable[[AccountSummary], str] = lambda a: a.payer.value,
) -> Page:
    """The page ``query`` asks for; a page past the end gives the last one."""
    rows = list(accounts)
    if query.search:
        needle = query.search.casefold()
        rows = [a for a in rows if needle in _haystack(a, payer_text).casefold()]
    rows.sort(key=SORTS[query.sort], reverse=query.descending)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(query.page, pages - 1)
    if page != query.page:
        query = Query(query.search, query.sort, query.descending, page)
    start = page * PAGE_SIZE
    return Page(rows[start : start + PAGE_SIZE], len(rows), len(accounts), query, pages)
