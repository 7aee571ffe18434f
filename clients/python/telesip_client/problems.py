"""Errors of telesip's HTTP APIs as exceptions: every answer of 400 or more is RFC 9457
problem details (``application/problem+json``); ``ProblemError`` carries it whole.

Invariant: ``str(error)`` is one line (``403 worker_refused: ...``), also when a proxy in front
of telesip answers with an HTML page instead of a problem.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["ProblemError", "Refused", "problem_of"]


class ProblemError(Exception):
    """An error answer: ``status``, ``code`` (telesip's stable code), ``detail`` and the whole
    problem (``problem["errors"]`` lists every invalid field of a 422)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        self.detail = " ".join(str(problem.get("detail", "")).split())
        super().__init__(f"{status} {self.code}: {self.detail}")


class Refused(ProblemError):
    """401 or 403: the key or credential is missing, wrong, revoked or out of scope. Sending
    the same request again will not help."""


def problem_of(response: httpx.Response) -> ProblemError:
    """The exception for an error answer (its body read already)."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"detail": " ".join(response.text.split())[:200] or response.reason_phrase}
    kind = Refused if response.status_code in (401, 403) else ProblemError
    return kind(response.status_code, problem)
