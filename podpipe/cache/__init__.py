"""The render cache: content-addressed entries (audio + a metadata record) with atomic writes and per-key
locks, its maintenance (info, verify, prune), and the stored Gemini voice list beside it."""

from podpipe.cache.atomic import atomic_path, write_atomic
from podpipe.cache.layout import resolve_cache_dir
from podpipe.cache.maintenance import cache_info, prune, verify
from podpipe.cache.store import FileStore, Store
from podpipe.cache.voices import LibraryVoice, VoiceLibrary, load_library, save_library

__all__ = ["FileStore", "LibraryVoice", "Store", "VoiceLibrary", "atomic_path", "cache_info", "load_library", "prune",
           "resolve_cache_dir", "save_library", "verify", "write_atomic"]
