"""``podpipe say``: one line (or a "Name: line" dialogue) to one audio file, through the same pipeline.

It builds an in-memory episode and runs it through ``build.execute``, so the text is split, cached, retried,
rate-limited and reported exactly like a spec's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podpipe import backends
from podpipe.cache import resolve_cache_dir
from podpipe.commands.build import BuildOptions, Progress, execute, prepare_episodes
from podpipe.errors import Diagnostic, UsageError
from podpipe.formats import FORMATS, format_of
from podpipe.render import QUOTA_WAIT
from podpipe.spec import Episode, Output, Segment, Speaker, Turn

if TYPE_CHECKING:
    from podpipe.backends.base import Backend

SAY_FORMATS = ("wav", "mp3")  # what a one-off line is written as (the suffix of -o decides)


@dataclass(frozen=True)
class SayResult:
    output: Path
    duration: float
    rendered: bool  # False when the audio came from the cache


@dataclass(frozen=True)
class _Judge:
    """The backend that owns the model (``backends.spec_judge``), checking voices as ``validate`` does."""

    backend: type[Backend] | None
    model: str | None
    cache_root: Path

    def voice(self, voice: str, where: str) -> str:
        voice = voice.strip()
        if self.backend is None:
            return voice
        for info in self.backend.voices():  # names are case-sensitive in a spec, not on the command line
            if info.name.lower() == voice.lower():
                return info.name
        problem = self.backend.check_voice(voice, self.backend.model_for(self.model), self.cache_root)
        if problem:
            raise UsageError(f"{where}: {problem}")
        return voice


def _speakers(specs: Sequence[str], judge: _Judge) -> list[Speaker]:
    speakers = []
    for n, spec in enumerate(specs):
        name, sep, voice = spec.rpartition(":")
        if not sep or not name.strip():
            raise UsageError(f"--speaker {spec!r}: write it as Name:Voice, e.g. --speaker Alex:Zephyr")
        speakers.append(Speaker(f"s{n}", judge.voice(voice, f"--speaker {spec}"), name.strip()))
    if len({s.name for s in speakers}) != len(speakers):
        raise UsageError("--speaker: each speaker needs a different name")
    return speakers


def _default_voice(judge: _Judge) -> str:
    """The voice when -v is left out: the model's backend's ``default_voice``, else the first it lists."""
    if judge.backend is None:
        raise UsageError("-v: no backend owns this model, so there is no default voice; name one")
    return judge.backend.default_voice or judge.backend.voices()[0].name


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
        timeout: float | None = None, rpm: float | None = None, quota_wait: float = QUOTA_WAIT, attempts: int = 5,
        rate_limit_url: str | None = None,
        progress: Progress | None = None) -> SayResult:
    output = Path(output).absolute()
    fmt = format_of(output)
    if fmt is None or fmt.name not in SAY_FORMATS:
        raise UsageError(f"-o {output.name}: the file name must end in "
                         f"{' or '.join(FORMATS[name].suffix for name in SAY_FORMATS)}")
    if speakers and voice:
        raise UsageError("give either -v VOICE (one speaker) or --speaker Name:Voice (several), not both")
    judge = _Judge(backends.spec_judge(model), model, resolve_cache_dir(cache_dir))
    if speakers:
        cast = _speakers(speakers, judge)
        segment = Segment(0, "s1", "dialogue", turns=_dialogue(text, cast), style=style, temperature=temperature)
    else:
        if not text.strip():
            raise UsageError("TEXT is empty")
        cast = [Speaker("narrator", judge.voice(voice or _default_voice(judge), "-v"), "Narrator")]
        segment = Segment(0, "s1", "speech", turns=(Turn("narrator", text),), style=style, temperature=temperature)
    episode = Episode(path=output.with_suffix(".say"), title=output.stem, speakers=tuple(cast),
                      segments=(segment,), output=Output(output, fmt.name), model=model,
                      language=language)
    warnings = []
    if temperature is not None and judge.backend is not None:
        named = judge.backend.model_for(model)
        if not judge.backend.target(model).sampling:
            warnings.append(Diagnostic("--temperature", 0, 0, "", f"{named} does not take temperature, so it is "
                                       "not sent; use --style for another delivery", severity="warning"))
        elif problem := judge.backend.temperature_warning(named, temperature, str(temperature)):
            warnings.append(Diagnostic("--temperature", 0, 0, "", problem, severity="warning"))
    # --force: a one-off file is always written, even when an identical one already stands there.
    options = BuildOptions(backend=backend, cache_dir=cache_dir, timeout=timeout, rpm=rpm, quota_wait=quota_wait,
                           rate_limit_url=rate_limit_url, attempts=attempts, force=True)
    result = execute(prepare_episodes([episode], options, warnings), options, progress)
    status = result.episodes[0]
    return SayResult(status.output or output, status.duration or 0.0, bool(result.render.rendered))
