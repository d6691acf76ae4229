"""A shared remote cache on object storage, beside the local one (issue 13): ``open_remote`` turns
``--remote-cache URL`` / ``PODPIPE_REMOTE_CACHE`` and the mode into a ``RemoteCache``;
``podpipe.cache.tiered.TieredStore`` puts it behind the local ``FileStore`` for the render stage.

The stores themselves (URLs, the ``Blobs`` contract, one module per kind of store) are ``podpipe.storage``,
shared with ``podpipe publish``. Modules: ``modes`` (URL and mode from options and environment), ``cache``
(``RemoteCache``: the entries, composing the parts below), ``guard`` (``Guard``: faults, counters, warnings),
``leases`` (``Leases``: one render per key across machines), ``outputs`` (``Outputs``: finished episodes),
``probe`` (``check``: a misconfigured remote found at the start), ``stats`` (``RemoteStats``,
``RemoteInfo``: what a run did, what the store holds). No storage library is imported before a remote is
opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from podpipe.cache.layout import ENV_MODE, ENV_URL
from podpipe.cache.remote.cache import Problem, RemoteCache, RemoteEntry
from podpipe.cache.remote.guard import DEADLINE
from podpipe.cache.remote.modes import MODES, remote_timeout, resolve_mode, resolve_url
from podpipe.cache.remote.outputs import FetchedOutput
from podpipe.cache.remote.stats import RemoteInfo, RemoteStats
from podpipe.storage import Blobs, Location, Unsupported, open_blobs, parse_url


def open_remote(url: str | None = None, mode: str | None = None, *, environ: Mapping[str, str] | None = None,
                on_warning: Callable[[str], None] | None = None, timeout: float = 10.0, attempts: int = 3,
                lease_ttl: float = 10.0, lease_wait: float = 600.0, poll_interval: float = 1.0,
                max_errors: int = 3, jobs: int = 8, deadline: float = DEADLINE) -> RemoteCache | None:
    """The remote cache the options and the environment ask for, or None for none (no URL, or mode off).

    ``url``: ``--remote-cache`` (else ``$PODPIPE_REMOTE_CACHE``); ``mode``: ``--remote-cache-mode`` (else
    ``$PODPIPE_REMOTE_CACHE_MODE``, else ``write`` where the URL allows it, ``read`` for http(s)).
    ``timeout`` bounds each request (seconds: the library's read timeout; connecting: at most 5 s; both at
    most ``deadline``), ``attempts`` is the storage library's tries per request (S3: botocore's standard
    retry mode). ``deadline``: the seconds remote operations that fail or get no answer may cost the run in
    all (``--remote-cache-timeout``; ``Guard``). Raises ``UsageError`` for a bad URL or mode and for a missing
    optional library (naming the extra); never for the store being unreachable: that shows when used.
    """
    env = os.environ if environ is None else environ
    raw = resolve_url(url, env)
    if raw is None:
        return None
    location = parse_url(raw)
    chosen = resolve_mode(mode, env, location)
    if chosen == "off":
        return None
    blobs = open_blobs(location, timeout=min(timeout, deadline), attempts=attempts)
    return RemoteCache(blobs, chosen, on_warning=on_warning, lease_ttl=lease_ttl, lease_wait=lease_wait,
                       poll_interval=poll_interval, max_errors=max_errors, jobs=jobs, environ=env,
                       deadline=deadline, op_timeout=min(deadline, 1.5 * timeout * max(1, attempts) + 1))


__all__ = ["DEADLINE", "ENV_MODE", "ENV_URL", "MODES", "Blobs", "FetchedOutput", "Location", "Problem", "RemoteCache",
           "RemoteEntry", "RemoteInfo", "RemoteStats", "Unsupported", "open_remote", "parse_url", "remote_timeout",
           "resolve_mode", "resolve_url"]
