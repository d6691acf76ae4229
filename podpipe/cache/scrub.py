"""Keeping credentials out of the cache's metadata records.

Callers only pass safe fields, but the cache directory is meant to be uploaded as a CI artifact and shared,
so a key that slipped into a request summary or an error text must not leave the machine. This is the last
line of defence, applied to every record before it is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("podpipe.cache.store")  # the logger these warnings always came from

# Field names that only ever hold credentials. Exact names, not substrings: "prompt_tokens" is usage, not a secret.
SECRET_FIELDS = frozenset({
    "api_key", "apikey", "x_goog_api_key", "authorization", "token", "access_token", "refresh_token",
    "id_token", "secret", "client_secret", "password", "credentials",
})
SECRET_ENV_MARKERS = ("API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
MIN_SECRET_LEN = 8  # shorter values ("1", "true") would match innocent text everywhere


def without_secrets(meta: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``meta`` without credential-named fields and without any value that contains a credential
    from ``environ`` (a variable whose name looks like one); logs a warning with the count when it drops any.

    Values are matched by containment, not equality, to catch "Bearer <key>" and "...?key=<key>"; a field
    whose *name* contains a credential goes too. Lists lose the offending items only.
    """
    secrets = [v for k, v in environ.items()
               if len(v) >= MIN_SECRET_LEN and any(m in k.upper() for m in SECRET_ENV_MARKERS)]
    dropped = [0]
    drop = object()

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return drop if any(s in value for s in secrets) else value
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and (k.lower().replace("-", "_") in SECRET_FIELDS or clean(k) is drop):
                    dropped[0] += 1
                    continue
                v = clean(v)
                if v is drop:
                    dropped[0] += 1
                else:
                    out[k] = v
            return out
        if isinstance(value, (list, tuple)):
            kept = [c for c in map(clean, value) if c is not drop]
            dropped[0] += len(value) - len(kept)
            return kept
        return value

    result = clean(meta)
    if dropped[0]:
        log.warning("cache metadata: dropped %d value(s) that looked like credentials", dropped[0])
    return result
