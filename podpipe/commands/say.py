"""``podpipe say``: one line (or a "Name: line" dialogue) to one audio file, through the same pipeline.

It builds an in-memory episode and runs it through ``build.execute``, so the text is split, cached, retried,
rate-limited and reported exactly like a spec's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from podpipe.cache import VoiceLibrary, load_library, resolve_cache_dir
from podpipe.catalog import DEFAULT_MODEL, GEMINI_VOICES, LOW_TEMPERATURE, is_custom, model_info
from podpipe.commands.build import BuildOptions, Progress, execute, prepare_episodes
from podpipe.errors import Diagnostic, UsageError
from podpipe.formats import FORMATS, format_of
from podpipe.spec import Episode, Output, Segment, Speaker, Turn

SAY_FORMATS = ("wav", "mp3")  # what a one-off line is written as (the suffix of -o decides)


@dataclass(frozen=True)
class SayResult:
    output: Path
    duration: float
    rendered: bool  # False when the audio came from the cache


def _voice(voice: str, where: str, model: str, library: Callable[[], VoiceLibrary | None]) -> str:
    voice = voice.strip()
    for name in GEMINI_VOICES:
        if name.lower() == voice.lower():
            return name
    stored = None if is_custom(voice) else library()
    if is_custom(voice) or (stored and voice in stored.names):
        if not model_info(model).voice_ids:
            raise UsageError(f"{where}: {model} takes only the 30 prebuilt voices; use --model gemini-3.8-flash-tts "
                             f"for {voice!r}")
        return voice
    raise UsageError(f"{where}: unknown voice {voice!r}; `podpipe voices` lists the voices")


def _speakers(specs: Sequence[str], model: str, library: Callable[[], VoiceLibrary | None]) -> list[Speaker]:
    speakers = []
    for n, spec in enumerate(specs):
        name, sep, voice = spec.rpartition(":")
        if not sep or not name.strip():
            raise UsageError(f"--speaker {spec!r}: write it as Name:Voice, e.g. --speaker Alex:Zephyr")
        speakers.append(Speaker(f"s{n}", _voice(voice, f"--speaker {spec}", model, library), name.strip()))
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
        progress: Progress | None = None) -> SayResult:
    output = Path(output).absolute()
    fmt = format_of(output)
    if fmt is None or fmt.name not in SAY_FORMATS:
        raise UsageError(f"-o {output.name}: the file name must end in "
                         f"{' or '.join(FORMATS[name].suffix for name in SAY_FORMATS)}")
    if speakers and voice:
        raise UsageError("give either -v VOICE (one speaker) or --speaker Name:Voice (several), not both")
    model = model or DEFAULT_MODEL
    cache_root = resolve_cache_dir(cache_dir)
    library = cache(lambda: load_library(cache_root))
    if speakers:
        cast = _speakers(speakers, model, library)
        segment = Segment(0, "s1", "dialogue", turns=_dialogue(text, cast), style=style, temperature=temperature)
    else:
        if not text.strip():
            raise UsageError("TEXT is empty")
        cast = [Speaker("narrator", _voice(voice or "Kore", "-v", model, library), "Narrator")]
        segment = Segment(0, "s1", "speech", turns=(Turn("narrator", text),), style=style, temperature=temperature)
    episode = Episode(path=output.with_suffix(".say"), title=output.stem, speakers=tuple(cast),
                      segments=(segment,), output=Output(output, fmt.name), model=model,
                      language=language)
    warnings = []
    if temperature is not None and not model_info(model).sampling:
        warnings.append(Diagnostic("--temperature", 0, 0, "", f"{model} does not take temperature, so it is not "
                                   "sent; use --style for another delivery", severity="warning"))
    if model_info(episode.model).fails_at(temperature):
        warnings.append(Diagnostic("--temperature", 0, 0, "", f"{temperature} on {episode.model} is known to fail "
                                   f"(finishReason OTHER); use more than {LOW_TEMPERATURE} or a 3.8 model", severity="warning"))
    # --force: a one-off file is always written, even when an identical one already stands there.
    options = BuildOptions(backend=backend, cache_dir=cache_dir, timeout=timeout, rpm=rpm, attempts=attempts,
                           force=True)
    result = execute(prepare_episodes([episode], options, warnings), options, progress)
    status = result.episodes[0]
    return SayResult(status.output or output, status.duration or 0.0, bool(result.render.rendered))
