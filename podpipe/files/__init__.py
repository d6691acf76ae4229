"""General file helpers on the ground floor: atomic replacement of files and the flock-based locks beneath it.

Every layer that writes a file others may read at the same time uses them: the cache's entries, the mix's
outputs and sidecars, the build report, the feed, ``file://`` stores. They import nothing of podpipe.

Modules: ``atomic`` (temp file beside the target, fsync, rename; dead writers' temp files removed) and
``locks`` (``commit_lock``, ``key_lock`` and the per-file locks that tell a live writer from a dead one).
"""

from podpipe.files.atomic import atomic_path, write_atomic

__all__ = ["atomic_path", "write_atomic"]
