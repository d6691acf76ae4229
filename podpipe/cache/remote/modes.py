"""Whether and how a build uses the remote cache: ``--remote-cache`` / ``PODPIPE_REMOTE_CACHE``,
``--remote-cache-mode`` / ``PODPIPE_REMOTE_CACHE_MODE`` and ``--remote-cache-timeout`` /
``PODPIPE_REMOTE_CACHE_TIMEOUT``. Which stores there are and how a URL names one is
``podpipe.storage``'s business."""

from __future__ import annotations

from collections.abc import Mapping

from podpipe.cache.layout import ENV_MODE, ENV_TIMEOUT, ENV_URL
from podpipe.cache.remote.guard import DEADLINE
from podpipe.errors import UsageError
from podpipe.storage import Location

MODES = ("read", "write", "off")


def resolve_url(option: str | None, environ: Mapping[str, str]) -> str | None:
    """``--remote-cache``, else ``$PODPIPE_REMOTE_CACHE``; empty counts as unset (CI exports empty
    variables). None: no remote cache."""
    for value in (option, environ.get(ENV_URL)):
        if value is not None and value.strip():
            return value.strip()
    return None


def resolve_mode(option: str | None, environ: Mapping[str, str], location: Location) -> str:
    """``--remote-cache-mode``, else ``$PODPIPE_REMOTE_CACHE_MODE``, else ``write`` where the URL allows it
    and ``read`` where it does not (http). ``write`` on a read-only URL is an error."""
    source, mode = next(((s, v.strip().lower()) for s, v in (("--remote-cache-mode", option),
                                                             (ENV_MODE, environ.get(ENV_MODE))) if v and v.strip()),
                        ("", ""))
    if not mode:
        return "write" if location.writable else "read"
    if mode not in MODES:
        raise UsageError(f"{source} {mode!r}: choose one of {', '.join(MODES)}")
    if mode == "write" and not location.writable:
        raise UsageError(f"{source} write: {location.display} is read only ({location.scheme}:// remote caches "
                         f"are only read); use read, or an s3://, gs://, az:// or file:// URL to write")
    return mode


def remote_timeout(option: float | None, environ: Mapping[str, str]) -> float:
    """``--remote-cache-timeout``, else ``$PODPIPE_REMOTE_CACHE_TIMEOUT``, else 30: the seconds a build may
    lose to remote operations that fail or get no answer, in all (``Guard``)."""
    if option is not None:
        value, source = option, "--remote-cache-timeout"
    else:
        raw = (environ.get(ENV_TIMEOUT) or "").strip()
        if not raw:
            return DEADLINE
        source = ENV_TIMEOUT
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"{ENV_TIMEOUT}={raw!r}: give seconds, e.g. 30") from None
    if not value > 0:
        raise UsageError(f"{source} {value!r}: give a positive number of seconds, e.g. 30")
    return float(value)
