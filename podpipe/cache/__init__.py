"""The render cache: content-addressed entries (audio + a metadata record) in a ``FileStore`` (``Store`` is
its contract), its maintenance (info, verify, prune), and a shared remote cache on object storage behind the
local one (``open_remote``, ``TieredStore``, ``push``/``pull``).

Atomic writes and locks are ``podpipe.files``; scrubbing secrets from records is ``podpipe.secrets``. The
remote cache's names are loaded on first use (PEP 562), so a build without one never imports them."""

from podpipe.cache.layout import resolve_cache_dir
from podpipe.cache.maintenance import cache_info, prune, verify
from podpipe.cache.store import FileStore, Store

__all__ = ["FileStore", "RemoteCache", "RemoteInfo", "RemoteStats", "Store", "TieredStore", "Transfer",
           "cache_info", "open_remote", "prune", "pull", "push", "remote_timeout", "resolve_cache_dir", "verify"]

_LAZY = {"RemoteCache": "podpipe.cache.remote", "RemoteInfo": "podpipe.cache.remote",
         "RemoteStats": "podpipe.cache.remote", "open_remote": "podpipe.cache.remote",
         "remote_timeout": "podpipe.cache.remote", "TieredStore": "podpipe.cache.tiered", "Transfer": "podpipe.cache.tiered", "pull": "podpipe.cache.tiered",
         "push": "podpipe.cache.tiered"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
