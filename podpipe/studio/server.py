"""``podpipe studio``'s server: the app on 127.0.0.1 (a free port, or the one asked for) with uvicorn.

The socket is bound before uvicorn starts, so the URL printed (with the session's token in it) is one that
answers, and port 0 gives a free port with no race. Nothing but the loopback address is ever bound.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from podpipe.errors import UsageError
from podpipe.studio import require
from podpipe.studio.guard import PathRefused, inside, new_token

HOST = "127.0.0.1"


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; pick another --port, "
                         "or leave it out for a free one") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def relative_specs(specs: Sequence[str | Path], root: Path) -> list[str]:
    """The specs as paths relative to ``root``, in the order given; a spec outside the root is refused."""
    out: list[str] = []
    for given in specs:
        path = Path(given)
        rel = path.absolute().relative_to(root.absolute()).as_posix() if path.is_absolute() and \
            path.absolute().is_relative_to(root.absolute()) else str(given)
        try:
            resolved = inside(root, rel)
        except PathRefused as exc:
            raise UsageError(f"{given}: the studio reads and writes only inside the project root {root} "
                             f"({exc}); run it from the project's folder") from exc
        if not resolved.is_file():
            raise UsageError(f"{given}: no such spec file")
        rel = resolved.relative_to(root.resolve()).as_posix()
        if rel not in out:
            out.append(rel)
    return out


def serve(specs: Sequence[str | Path], *, root: Path, port: int = 0, cache_dir: Path | None = None,
          ready: Callable[[str], None] = print) -> None:
    """Serve the studio for ``specs`` until interrupted; ``ready(url)`` is called once it listens."""
    uvicorn = require("uvicorn")
    require("starlette")
    require("watchfiles")
    from podpipe.studio.app import Studio, create_app

    studio = Studio(root=root, specs=relative_specs(specs, root), cache_dir=cache_dir, token=new_token())
    sock = bind(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/?token={studio.token}"
    config = uvicorn.Config(create_app(studio), log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            studio.bus.close()  # open pages' event streams end, so the shutdown need not wait for them
            super().handle_exit(sig, frame)

    server = Server(config)
    original = server.startup

    async def startup(sockets=None) -> None:
        await original(sockets=sockets)
        if server.started:
            ready(url)
    server.startup = startup
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
