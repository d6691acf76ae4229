"""A scripted backend for scheduler and lock tests: the scheduler only sees the Backend interface, so a
stand-in that can fail on cue, take its time and count what it was asked is all those tests need."""

from __future__ import annotations

import threading
import time

from podpipe.audio_types import Audio
from podpipe.backends.base import Backend, Rendered, Usage, VoiceInfo
from podpipe.compile import RenderRequest, Target, compile_episode
from tests.support.episodes import episode, line


class ScriptedBackend(Backend):
    """Fails each request per ``script[text]`` (BackendErrors, consumed in order), then succeeds with 0.1 s of
    audio after ``latency`` seconds. ``calls`` holds (start time, text), ``keys`` the keys, in call order;
    ``max_active`` the most renders that ran at once."""

    name = "scripted"

    def __init__(self, script=None, latency: float = 0.0):
        super().__init__()
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.latency = latency
        self.calls: list[tuple[float, str]] = []
        self.keys: list[str] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def render(self, request: RenderRequest) -> Rendered:
        text = request.turns[0].text
        with self.lock:
            self.calls.append((time.monotonic(), text))
            self.keys.append(request.key)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            failure = self.script.get(text, []).pop(0) if self.script.get(text) else None
        try:
            time.sleep(self.latency)
            if failure is not None:
                raise failure
            return Rendered(Audio(b"\x01\x00" * 2400, 24000), Usage(10, 20, 30))
        finally:
            with self.lock:
                self.active -= 1

    @classmethod
    def voices(cls):
        return [VoiceInfo("Zephyr", "test")]


def scripted_requests(n: int, text: str = "Line number {i}.") -> list[RenderRequest]:
    """``n`` distinct one-line requests for the scripted backend."""
    ep = episode(*(line(i, "host", text.format(i=i)) for i in range(n)))
    return list(compile_episode(ep, Target("scripted", "m")).requests)
