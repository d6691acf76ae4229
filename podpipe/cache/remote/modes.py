"""Whether and how a build uses the remote cache: ``--remote-cache`` / ``PODPIPE_REMOTE_CACHE`` and
``--remote-cache-mode`` / ``PODPIPE_REMOTE_CACHE_MODE``. Which stores there are and how a URL names one is
``podpipe.storage``'s business."""

from __future__ import annotations

from collections.abc import Mapping

from podpipe.cache.layout import ENV_MODE, ENV_URL
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
