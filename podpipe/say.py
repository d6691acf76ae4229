"""``podpipe say``: one line (or a "Name: line" dialogue) to one audio file, through the same pipeline.

It builds an in-memory episode, so the text is split, cached, retried and rate-limited exactly like a spec's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import backends
from .cache import FileStore, resolve_cache_dir
from .compile import compile_episode
from .episode import DEFAULT_MODEL, Episode, Output, Segment, Speaker, Turn
from .errors import RenderError, UsageError
from .build import OFFLINE_NOTICE, attempts_text
from .models import model_info
from .render import RenderOptions, Scheduler
from .voices import GEMINI_VOICES

_FORMATS = {".wav": "wav", ".mp3": "mp3"}


@dataclass(frozen=True)
class SayResult:
    output: Path
    duration: float
    rendered: bool  # False when the audio came from the cache


def _voice(voice: str, where: str) -> str:
    for name in GEMINI_VOICES:
        if name.lower() == voice.strip().lower():
            return name
    raise UsageError(f"{where}: unknown voice {voice!r}; `podpipe voices` lists the 30 voices")


def _speakers(specs: Sequence[str]) -> list[Speaker]:
    speakers = []
    for n, spec in enumerate(specs):
        name, sep, voice = spec.rpartition(":")
        if not sep or not name.strip():
            raise UsageError(f"--speaker {spec!r}: write it as Name:Voice, e.g. --speaker Alex:Zephyr")
        speakers.append(Speaker(f"s{n}", _voice(voice, f"--speaker {spec}"), name.strip()))
    if len({s.name for s in speakers}) != len(speakers):
        raise UsageError("--speaker: each speaker needs a different name")
    return speakers


def _dialogue(text: str, speakers: list[Speaker]) -> tuple[Turn, ...]:
    by_name = {s.name: s.id for s in speakers}
    pattern = re.compile(r"^\s*(" + "|".join(map(re.escape, by_name)) + r")\s*:\s*(.+)$")
    turns = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        m = pattern.match(raw)
        if not m:
            raise UsageError(f"line {n} of TEXT: {raw.strip()[:40]!r} does not start with a speaker name "
                             f"({', '.join(by_name)}) and a colon")
        turns.append(Turn(by_name[m.group(1)], m.group(2).strip(), n))
    if not turns:
        raise UsageError("TEXT is empty")
    return tuple(turns)


def say(text: str, output: str | Path, *, voice: str | None = None, speakers: Sequence[str] = (),
        style: str | None = None, model: str | None = None, temperature: float | None = None,
        language: str | None = None, backend: str | None = None, cache_dir: str | Path | None = None,
        timeout: float | None = None, rpm: float | None = None, attempts: int = 5,
        note: Callable[[str], None] = lambda message: None) -> SayResult:
    from . import mix

    output = Path(output).absolute()
    fmt = _FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise UsageError(f"-o {output.name}: the file name must end in .wav or .mp3")
    if speakers and voice:
        raise UsageError("give either -v VOICE (one speaker) or --speaker Name:Voice (several), not both")
    if speakers:
        cast = _speakers(speakers)
        segment = Segment(0, "s1", "dialogue", turns=_dialogue(text, cast), style=style, temperature=temperature)
    else:
        if not text.strip():
            raise UsageError("TEXT is empty")
        cast = [Speaker("narrator", _voice(voice or "Kore", "-v"), "Narrator")]
        segment = Segment(0, "s1", "speech", turns=(Turn("narrator", text),), style=style, temperature=temperature)
    episode = Episode(path=output.with_suffix(".say"), title=output.stem, speakers=tuple(cast),
                      segments=(segment,), output=Output(output, fmt, 0.25), model=model or DEFAULT_MODEL,
                      language=language)
    name = backend or backends.default_backend_name()
    cls = backends.backend_class(name)
    info = model_info(episode.model)
    if name == "gemini" and info.low_temperature_fails and temperature is not None and temperature <= 0.4:
        note(f"warning: temperature {temperature} on {episode.model} is known to fail (finishReason OTHER); "
             f"use more than 0.4 or a 3.8 model")
    compiled = compile_episode(episode, name, cls.model_for(episode.model))
    store = FileStore(resolve_cache_dir(cache_dir, cwd=Path(os.getcwd())))
    missing = [r for r in compiled.requests if not store.has(r.key)]
    if missing:
        if backend is None and name == "espeak":
            note(OFFLINE_NOTICE)
        instance = cls(timeout=timeout)
        if rpm is None and hasattr(cls, "rpm_for"):
            rpm = cls.rpm_for(compiled.requests[0].model)
        try:
            result = Scheduler(instance, store, RenderOptions(rpm=rpm, attempts=attempts)).run(missing)
        finally:
            instance.close()
        if result.failed:
            raise RenderError("; ".join(f"{o.error} (after {attempts_text(o.attempts)})" for o in result.failed))
    mixed = mix.mix_episode(compiled, lambda key: _get(store, key))
    return SayResult(mixed.output, mixed.duration, bool(missing))


def _get(store: FileStore, key: str):
    audio = store.get(key)
    if audio is None:
        raise RenderError(f"cache entry {key[:12]} vanished or is damaged; run the command again")
    return audio
