"""Keeping credentials out of the cache's metadata records and out of the remote cache's messages.

Callers only pass safe fields, but the cache directory is meant to be uploaded as a CI artifact and shared,
so a key that slipped into a request summary or an error text must not leave the machine. This is the last
line of defence, applied to every record before it is written (``without_secrets``) and to every text an
object-storage library or server hands the remote cache before it reaches a warning or a log
(``scrub_text``).
"""

from __future__ import annotations

import logging
import re
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


# In error texts also the storage providers' variables (AWS_ACCESS_KEY_ID, AZURE_STORAGE_KEY,
# AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN, ...) count: any name with one of these in it.
TEXT_SECRET_ENV_MARKERS = (*SECRET_ENV_MARKERS, "KEY", "CONNECTION_STRING", "SAS", "SIGNATURE")
MAX_TEXT = 300
_TEXT_PATTERNS = (  # strings: compiled on first use, so importing the cache stays cheap
    r"\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"AIza[0-9A-Za-z_\-]{8,}",  # Google API keys
    r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",  # AWS secret access keys (if mixed case)
)
_USERINFO = r"://[^/@\s:]+:[^/@\s]*@"  # user:password@ in a URL
_PARAMS = (  # presigned and SAS URLs, connection strings, auth headers: the value goes, the name stays
    r"(?i)((?:(?:x-amz-)?(?:signature|credential|security-token)|sig|(?:session_?|access_?|security_?)?token|"
    r"accountkey|sharedaccesskey|sharedaccesssignature|password|secret|api_?key|key)=|"
    r"authorization:\s*(?:\w+\s+)?)"
    r"[^&;,\s'\"]+")


def scrub_text(text: str, environ: Mapping[str, str], limit: int = MAX_TEXT) -> str:
    """``text`` (an error message from a storage library or server) with anything credential-like replaced
    by ``***``: the value of every variable in ``environ`` whose name looks like a credential's, key-shaped
    tokens (AWS access key ids and 40-character secret keys, Google API keys), ``user:password@`` in URLs
    and the values of signature, token, key and password parameters; cut to ``limit`` characters."""
    secrets = sorted((v for k, v in environ.items()
                      if len(v) >= MIN_SECRET_LEN and any(m in k.upper() for m in TEXT_SECRET_ENV_MARKERS)),
                     key=len, reverse=True)  # longest first: a secret containing another goes whole
    for secret in secrets:
        text = text.replace(secret, "***")
    text = re.sub(_USERINFO, "://***@", text)
    for pattern in _TEXT_PATTERNS:
        text = re.sub(pattern, lambda m: "***" if _secret_shaped(m.group(0)) else m.group(0), text)
    text = re.sub(_PARAMS, lambda m: m.group(1) + "***", text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _secret_shaped(token: str) -> bool:
    """A 40-character run counts as a secret key only with upper and lower case letters in it (so a git or
    sha1 hex digest, all lower case, stays readable); the other patterns are specific enough as they are."""
    if len(token) != 40 or token.startswith("AIza"):
        return True
    return any(c.isupper() for c in token) and any(c.islower() for c in token)
