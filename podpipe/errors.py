"""Errors a user can act on, each with the exit code the CLI maps it to.

Every user-facing failure is a ``PodpipeError``; anything else reaching the CLI is a bug and only shows a
traceback behind ``--debug``. Messages name the file, line, field and the fix, because the person reading
them is usually looking at a CI log, not at our code.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """The one place exit codes are defined; the README's table documents them."""

    OK = 0
    FAILED = 1  # a render failed after retries, an episode could not be mixed or written, a publish failed
    INVALID = 2  # invalid input: a spec, an option, a path; nothing was rendered or written
    FROZEN_MISS = 3  # --frozen and some request is not cached; nothing was rendered
    FLAGGED = 4  # --strict (or review: strict) and some take failed review on every attempt
    REMOTE_MISCONFIGURED = 5  # the remote cache refused the credentials or has no bucket (--strict, cache pull)
    INTERNAL = 70  # a bug: rerun with --debug and report it
    INTERRUPTED = 130  # Ctrl-C; renders that finished are cached


class PodpipeError(Exception):
    """Base of every error whose message is meant for the user."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class Diagnostic:
    """One problem in one spec file, located precisely enough to jump to it in an editor."""

    file: str
    line: int  # 1-based; 0 when the problem has no position (e.g. the file is unreadable)
    column: int  # 1-based; 0 when unknown
    field: str  # dotted path such as ``segments[3].speaker``; "" for the whole document
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        field = f" {self.field}:" if self.field else ""
        prefix = " warning:" if self.severity == "warning" else ""
        return f"{where}:{prefix}{field} {self.message}"


class SpecError(PodpipeError):
    """One or more specs are invalid; carries every diagnostic of every file."""

    exit_code = ExitCode.INVALID

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = [d for d in diagnostics if d.severity == "error"]
        self.warnings = [d for d in diagnostics if d.severity != "error"]
        n = len(self.diagnostics)
        files = len({d.file for d in self.diagnostics})
        summary = f"{n} error{'s' if n != 1 else ''} in {files} file{'s' if files != 1 else ''}"
        super().__init__("\n".join([*map(str, self.diagnostics), summary]))


class UsageError(PodpipeError):
    """Bad command-line usage or configuration outside the specs (bad --cache-dir, unknown backend)."""

    exit_code = ExitCode.INVALID


class NotBuiltError(PodpipeError):
    """``podpipe feed``: an episode's output is missing, has no manifest, or changed since it was built."""

    exit_code = ExitCode.INVALID


class FrozenMissError(PodpipeError):
    """``--frozen`` was given and some requests are not cached; nothing was rendered."""

    exit_code = ExitCode.FROZEN_MISS


class RemoteConfigError(PodpipeError):
    """The remote cache is misconfigured (credentials refused, no such bucket) and the caller must not go
    on without it: ``--strict`` builds and plans, ``cache pull``. Nothing was rendered or pulled."""

    exit_code = ExitCode.REMOTE_MISCONFIGURED


class RenderError(PodpipeError):
    """Some renders failed after all retries; everything that succeeded is cached.

    ``result`` is the build's full result (what was rendered, mixed and failed), for reports.
    """

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, result: object = None):
        super().__init__(message)
        self.result = result


class FlaggedError(RenderError):
    """``--strict``: some take failed review on every attempt (it is cached, flagged, and the episode was
    mixed with it); the message lists the flagged lines. ``result`` as for ``RenderError``."""

    exit_code = ExitCode.FLAGGED


class PublishError(PodpipeError):
    """``podpipe publish`` could not finish because the store failed (unreachable, denied, throttled); the
    message names the store's URL and what state the publish left (the feed goes last, so the old one stays
    live)."""

    exit_code = ExitCode.FAILED


class BackendError(Exception):
    """Raised by a backend for one failed attempt at one request.

    ``retryable`` tells the scheduler whether another attempt can help (429, 5xx, timeouts, bad audio);
    ``retry_after`` is a server-given minimum wait in seconds (RetryInfo), which slows the whole pool.
    ``cut_off``: the take stopped at the model's output cap; the scheduler splits the request at sentence
    ends and renders the parts instead (never retried as is, never cached). ``final_if_repeated``: a
    retryable failure that, answered the same way twice in a row for one request, will not change (e.g. the
    same 500 for a language the model does not speak), so the scheduler stops after the second.
    ``billed``: what the failed attempt was billed (a ``podpipe.backends.base.Usage``), None when nothing.
    The message must never contain a secret: backends build it from status, reason and the fix.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int | None = None, cut_off: bool = False, final_if_repeated: bool = False,
                 billed: object = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.cut_off = cut_off
        self.final_if_repeated = final_if_repeated
        self.billed = billed


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest other candidate: an exact match ignoring case first, then difflib's best near-miss."""
    by_lower: dict[str, str] = {}
    for c in candidates:
        if c != word:
            by_lower.setdefault(c.lower(), c)
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return by_lower[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None
