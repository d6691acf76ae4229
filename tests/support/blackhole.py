"""An endpoint that accepts connections and never answers (a hung load balancer, a firewall that drops
replies): a listening socket on 127.0.0.1 (a free port) whose accepted connections are held open, never
read or written, until ``close``. ``accepted`` counts them; ``first`` is set when one arrives."""

from __future__ import annotations

import socket
import threading


class Blackhole:
    def __init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.first = threading.Event()
        self._held: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)
        self._thread.start()

    @property
    def accepted(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._held.append(conn)
            self.first.set()

    def close(self) -> None:
        self._closed = True
        self._server.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
