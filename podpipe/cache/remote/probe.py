"""The one probe at the start of a run that tells a misconfigured remote from an empty one.

Without it, refused credentials (403) and a bucket that does not exist look exactly like an empty cache:
every lookup is a miss, everything is rendered (and paid for) again, and the job passes. The probe reads an
object podpipe never writes (``PROBE_PATH``); "not there" is the healthy answer. The store's own reading of
an exception (``Blobs.explain``) says whether it is a misconfiguration (``Problem``: warned once in plain
words with the fix, and the remote switched off for the run) or a fault that may pass (unreachable, a
timeout: warned and counted as usual by the ``Guard``). The caller decides what a ``Problem`` means:
``--strict`` builds and plans and ``cache pull``/``push`` fail with ``ExitCode.REMOTE_MISCONFIGURED``.
"""

from __future__ import annotations

from dataclasses import dataclass

from podpipe.cache.remote.guard import Abandoned, Guard
from podpipe.storage import Blobs, Unsupported

PROBE_PATH = "podpipe-probe.json"  # read (never written) once at the start
READ_ONLY_HINT = "if this job may only read the remote cache, use --remote-cache-mode read"


@dataclass(frozen=True)
class Problem:
    """A misconfigured remote: ``kind`` is ``denied`` (credentials refused) or ``missing`` (no such bucket),
    ``code`` the store's error code; ``message`` says it in plain words, with the fix."""

    kind: str
    code: str
    message: str

    @property
    def error(self) -> str:
        """The message for a caller that stops here (without "going on without the remote cache")."""
        return self.message.split(" Going on without")[0]


def check(blobs: Blobs, guard: Guard, *, writable: bool) -> Problem | None:
    """Probe ``blobs`` once through ``guard`` (bounded like every operation); None: no misconfiguration."""
    try:
        guard.bounded(lambda: blobs.read(PROBE_PATH), cap=guard.op_timeout)
    except (Abandoned, Unsupported):
        return None  # a timeout is warned about and counted by the guard; a store without reads has no probe
    except Exception as exc:  # noqa: BLE001 - the store's library raises what it raises
        reading = blobs.explain(exc)
        if reading is None:
            guard.call("read", "first lookup", lambda: _reraise(exc))  # a fault: counted and warned as usual
            return None
        problem = describe(blobs.display, *reading, writable=writable)
        guard.warn(problem.message)
        guard.switch_off(f"{'credentials refused' if problem.kind == 'denied' else 'no such bucket'} "
                         f"({problem.code})", warn=False)
        return problem
    return None


def describe(url: str, kind: str, code: str, *, writable: bool) -> Problem:
    """The plain-words message, with the fix, for a misconfiguration of ``kind``."""
    tail = " Going on without the remote cache (--strict makes this an error)."
    if kind == "denied":
        can = "read it" + (" and write it" if writable else "")
        extra = "; a job that may only read it should use --remote-cache-mode read" if writable else ""
        return Problem(kind, code, f"remote cache {url}: the store refused these credentials ({code}), so "
                                   f"nothing can be looked up there: every segment not cached locally is "
                                   f"rendered (and paid for) again. Fix: give this job credentials that may {can} "
                                   f"(for S3: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the job's "
                                   f"role){extra}.{tail}")
    bucket = url.split("/")[2] if "://" in url else url
    return Problem(kind, code, f"remote cache {url}: the bucket {bucket!r} does not exist ({code}): nothing can "
                               f"be found there or stored there, so it would look like an empty cache. Fix: "
                               f"create the bucket, or correct its name in --remote-cache / "
                               f"PODPIPE_REMOTE_CACHE.{tail}")


def _reraise(exc: BaseException):
    raise exc
