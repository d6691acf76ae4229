"""``podpipe feed``: the show's ``Site`` (``podpipe.feed.make_site``) written to disk, so the folder of the
feed is the site as ``podpipe publish`` uploads it, at the same relative paths: the feed, ``index.html``
beside it, and every file they point at under its content-addressed name (a hard link to the built file
where the file system allows, else a copy). The feed is written last.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from podpipe.feed import Site, make_site
from podpipe.files import atomic_path, write_atomic


@dataclass(frozen=True)
class FeedResult:
    site: Site
    feed: Path | None  # where the feed was written; None: nothing written (the caller prints site.feed)
    episodes: int
    copied: int  # files copied into the site's folder


def write_feed(spec_paths: Sequence[str | Path], base_url: str, output: Path | None = None, *,
               skip_unbuilt: bool = False, allow_outside: bool = False, strict: bool = False,
               notes: Callable[[str], None] | None = None) -> FeedResult:
    """Make the site of ``spec_paths`` and, with ``output``, write it: the feed at ``output``, the rest in
    its folder. Without ``output`` nothing is written."""
    site = make_site(spec_paths, base_url, skip_unbuilt=skip_unbuilt, feed_path=output, allow_outside=allow_outside,
                     strict=strict, notes=notes)
    episodes = sum(f.role == "media" for f in site.files)
    if output is None:
        return FeedResult(site, None, episodes, 0)
    root = Path(os.path.abspath(output)).parent
    copied = 0
    for file in site.files:
        target = root / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.data is not None:
            if not (target.is_file() and target.read_bytes() == file.data):  # unchanged stays untouched
                write_atomic(target, file.data)
        elif not _same(file.source, target):
            if not _link(file.source, target):
                with atomic_path(target) as temp:
                    shutil.copyfile(file.source, temp)
            copied += 1
    return FeedResult(site, root / site.feed.path, episodes, copied)


def _link(source: Path, target: Path) -> bool:
    """Hard-link ``target`` to ``source`` (the name holds the content's hash, and builds replace files
    rather than rewrite them, so the link keeps those bytes); False where links are not possible."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.link")
    try:
        os.link(source, temp)
    except OSError:
        return False
    os.replace(temp, target)
    return True


def _same(source: Path, target: Path) -> bool:
    """Whether ``target`` is ``source`` or already a copy of it (same size and contents)."""
    try:
        if os.path.samefile(source, target):
            return True
        if os.path.getsize(source) != os.path.getsize(target):
            return False
    except OSError:
        return False
    with open(source, "rb") as a, open(target, "rb") as b:
        while True:
            x, y = a.read(1 << 20), b.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def preview_server(spec_paths: Sequence[str | Path], *, host: str = "127.0.0.1", port: int = 0,
                   skip_unbuilt: bool = False, allow_outside: bool = False, strict: bool = False,
                   notes: Callable[[str], None] | None = None, log: Callable[[str], None] | None = None):
    """``podpipe feed --serve``: a ``podpipe.feed.serve.PreviewServer`` bound to ``host``:``port`` and showing
    the site of ``spec_paths`` made for its own URL (so the feed's enclosures play from it too). The caller
    runs ``serve_forever()`` (or ``start()``) and closes it. The specs are read before anything is bound."""
    from podpipe.feed.serve import PreviewServer

    make = dict(skip_unbuilt=skip_unbuilt, allow_outside=allow_outside, strict=strict, notes=notes)
    make_site(spec_paths, "http://127.0.0.1", **make)  # a spec error is reported before a port is taken
    server = PreviewServer(host, port, log=log)
    try:
        server.show(make_site(spec_paths, server.url, **make))
    except BaseException:
        server.server_close()
        raise
    return server
