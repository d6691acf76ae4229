"""The mix stage: stitch an episode's pieces into one file, export it, and record what went into it.

Stitching is linear: every piece becomes raw PCM at the episode rate, in order, and those buffers are written
out one after the other (pydub's ``sum()``/``+`` copies the whole episode per piece, which is quadratic); they
are joined into one buffer (once, ``b"".join``) only when a post-stitch step asks for the whole audio. The
episode rate is the highest rate among the speech renders (24 kHz for Gemini, 22.05 kHz for an all-espeak
draft), so speech is only ever resampled upwards; sound files are decoded straight to that rate by ffmpeg.

Beside ``<stem>.<format>`` goes ``<stem>.manifest.json``: every piece with its sample-exact start/end, and an
``inputs_digest`` over everything that determines the output (render keys, gaps, pauses, sound contents and
settings, format, tag metadata, ``MIX_VERSION``, settings of the post-stitch steps). ``is_up_to_date`` compares
that digest and the output's size/mtime/hash without loading any audio library, so a no-op build stays fast.

Production audio extends this module through ``MixStep`` (loudness on the stitched audio, tags/chapters/art
edited into the exported file, transcripts and chapter files beside it) and ``EXPORTERS`` (one per format).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podpipe import __version__
from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.cache import atomic_path, write_atomic  # noqa: F401  (re-exported)
from podpipe.compile import CompiledEpisode, Piece, SilencePiece, SoundPiece, SpeechPiece
from podpipe.errors import PodpipeError, UsageError

# Bump when the stitched audio or the manifest changes for the same inputs: every output becomes stale.
MIX_VERSION = 1
MANIFEST_VERSION = 1
DEFAULT_RATE = 24000  # Gemini's rate; used when an episode has no speech
CHANNELS = 1  # podcasts of speech are mono; production audio will make this an output setting
MP3_BITRATE = "96k"  # transparent for mono speech, ~43 MB per hour


@dataclass(frozen=True)
class PlacedPiece:
    """A plan piece with its exact place in the episode, in frames at the rate it was stitched at."""

    piece: Piece
    start_frame: int
    end_frame: int
    rate: int
    # where the turns of a multi-speaker render meet, in seconds from the piece's start, and how they were
    # found ("silence", or "text" when the render had too few pauses); see ``transcript.turn_bounds``
    bounds: tuple[float, ...] = ()
    bounds_method: str = "exact"

    @property
    def start(self) -> float:
        return self.start_frame / self.rate

    @property
    def end(self) -> float:
        return self.end_frame / self.rate

    @property
    def kind(self) -> str:
        return _KINDS[type(self.piece)]

    def turn_spans(self) -> list[tuple[float, float, Any]]:
        """(start, end, turn) in episode seconds for each turn of a speech piece; [] for other pieces."""
        turns = getattr(self.piece, "turns", ())
        bounds = self.bounds
        if len(bounds) != max(0, len(turns) - 1):  # never located: shared out by text length
            from podpipe.mix.steps.transcript import turn_bounds

            bounds = tuple(turn_bounds(0.0, self.end - self.start, [t.text for t in turns], ())[0])
        edges = [self.start, *(self.start + b for b in bounds), self.end]
        return list(zip(edges, edges[1:], turns))


_KINDS = {SpeechPiece: "speech", SilencePiece: "silence", SoundPiece: "sound"}


@dataclass(frozen=True)
class MixResult:
    output: Path
    manifest: Path
    duration: float  # seconds
    rate: int
    pieces: tuple[PlacedPiece, ...]
    inputs_digest: str
    sidecars: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()  # what the author should know about the result (e.g. a voice held by its peaks)


@dataclass
class MixContext:
    """The stitched episode, as post-stitch steps and exporters see it.

    ``chunks`` is the episode's PCM in playback order; ``audio`` joins it into one buffer on first use and
    may be assigned (e.g. by a loudness step). ``report`` entries land in the manifest under ``steps``.
    """

    compiled: CompiledEpisode
    pieces: tuple[PlacedPiece, ...]
    rate: int
    channels: int
    chunks: list[bytes]
    report: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the author, beside the manifest's figures

    @property
    def frames(self) -> int:
        return sum(map(len, self.chunks)) // (SAMPLE_WIDTH * self.channels)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    @property
    def audio(self) -> Audio:
        if len(self.chunks) != 1:
            self.chunks = [b"".join(self.chunks)]
        return Audio(self.chunks[0], self.rate, self.channels)

    @audio.setter
    def audio(self, value: Audio) -> None:
        self.chunks, self.rate, self.channels = [value.pcm], value.rate, value.channels


class MixStep:
    """A step after stitching. Subclasses override what they need; the base does nothing.

    ``settings`` must return every setting that changes the step's result (JSON-able): it is part of the
    inputs digest, so changing it re-mixes (and never re-renders).
    """

    name = "step"

    def settings(self, compiled: CompiledEpisode) -> Any:
        return None

    def process(self, ctx: MixContext) -> None:
        """Change ``ctx.audio`` before export."""

    def edit_output(self, ctx: MixContext, path: Path) -> None:
        """Edit the exported file in place (tags, chapters, cover art) before it replaces the output;
        ``path`` is the temporary file, named without the format's suffix."""

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        """Write files beside the exported ``output`` (atomically, see ``atomic_path``); return their paths."""
        return []


# Rates podcast apps and encoders expect when the spec does not say (Opus runs at 48 kHz only).
LOSSY_RATES = {"mp3": 44100, "m4a": 44100, "ogg": 48000}
DEFAULT_BITRATES = {"mp3": 96, "m4a": 96, "ogg": 64}  # kbit/s: transparent for speech at these rates


def output_rate(compiled: CompiledEpisode) -> int | None:
    """The sample rate the output is written at; None keeps the stitch rate (the speech's)."""
    out = compiled.episode.output
    return out.sample_rate or LOSSY_RATES.get(compiled.plan.format)


def _output(compiled: CompiledEpisode):
    return compiled.episode.output


class FormatStep(MixStep):
    """Brings the stitched audio to the output's sample rate and channel count before anything measures it,
    with ffmpeg's filtered resampler (the loudness and true peak reported are those of the file written)."""

    name = "format"

    def settings(self, compiled: CompiledEpisode) -> Any:
        out = _output(compiled)
        settings = {"rate": output_rate(compiled), "channels": getattr(out, "channels", 1),
                    "bitrate": getattr(out, "bitrate", None)}
        if getattr(out, "crossfade", 0.0):
            settings["crossfade"] = out.crossfade
        return settings

    def process(self, ctx: MixContext) -> None:
        from podpipe import audio as pcm

        rate = output_rate(ctx.compiled) or ctx.rate
        channels = getattr(_output(ctx.compiled), "channels", 1)
        if (rate, channels) != (ctx.rate, ctx.channels):
            ctx.audio = pcm.ffmpeg_convert(ctx.audio, rate, channels)


class MusicStep(MixStep):
    """Music beds under ranges of segments, ducked under speech (``podpipe.mix.steps.music``)."""

    name = "music"
    VERSION = 1

    def settings(self, compiled: CompiledEpisode) -> Any:
        beds = getattr(compiled.episode, "music", ())
        if not beds:
            return None
        from podpipe.mix.steps import music

        here = compiled.episode.path.parent
        return {"version": self.VERSION, "attack": music.ATTACK, "release": music.RELEASE,
                "bridge": music.BRIDGE,
                "beds": [{"path": _relative(b.path, here), "sha256": sound_sha256(b.path),
                          "from": b.start_segment, "to": b.end_segment, "gain_db": b.gain_db,
                          "duck_db": b.duck_db, "fade_in": b.fade_in, "fade_out": b.fade_out, "loop": b.loop}
                         for b in beds]}

    def process(self, ctx: MixContext) -> None:
        beds = getattr(ctx.compiled.episode, "music", ())
        if not beds:
            return
        from podpipe.mix.steps import music

        placed = []
        for bed in beds:
            last = bed.end_segment if bed.end_segment >= 0 else max(
                (p.piece.segment_index for p in ctx.pieces if p.piece.segment_index is not None), default=0)
            inside = [p for p in ctx.pieces if p.piece.segment_index is not None
                      and bed.start_segment <= p.piece.segment_index <= last]
            if inside:
                placed.append((bed, inside[0].start, inside[-1].end))
        chunks, ctx.chunks = ctx.chunks, []  # handed over: freed as soon as they are copied into the mix
        ctx.audio, ctx.report[self.name] = music.mix_beds(chunks, ctx.rate, ctx.channels, placed,
                                                          music.speech_spans(ctx.pieces))


class LoudnessStep(MixStep):
    """Speaker leveling, loudness normalization and true-peak limiting (``podpipe.mix.steps.loudness``)."""

    name = "loudness"

    def settings(self, compiled: CompiledEpisode) -> Any:
        out = _output(compiled)
        target = getattr(out, "loudness", None)
        if target is None:
            return None
        from podpipe.mix.steps.loudness import ENCODER_HEADROOM, LOUDNESS_VERSION  # stdlib-only at import time

        return {"version": LOUDNESS_VERSION, "target": target, "true_peak": out.true_peak,
                "headroom": ENCODER_HEADROOM.get(compiled.plan.format, 0.0)}

    def process(self, ctx: MixContext) -> None:
        out = _output(ctx.compiled)
        if getattr(out, "loudness", None) is None:
            return
        from podpipe.mix.steps.loudness import ENCODER_HEADROOM, normalize

        groups: dict[str, list[tuple[int, int]]] = {}
        rate = ctx.rate  # pieces were placed at the stitch rate; the audio may have been resampled since
        for placed in ctx.pieces:
            p = placed.piece
            if not isinstance(p, SpeechPiece):
                continue
            if placed.bounds_method == "text":  # turns not found in the audio: level the render as a whole
                groups.setdefault(" & ".join(p.speakers), []).append(
                    (round(placed.start * rate), round(placed.end * rate)))
                continue
            # each turn of a dialogue render goes to its speaker: voices come out of one render at
            # different levels too (the pause between two turns is split between them, and gated out)
            for a, b, turn in placed.turn_spans():
                groups.setdefault(turn.speaker, []).append((round(a * rate), round(b * rate)))
        # the pieces go in as they are (no joined copy) and are handed over: they are freed once the result exists
        pieces = [Audio(chunk, ctx.rate, ctx.channels) for chunk in ctx.chunks]
        ctx.chunks = []
        ctx.audio, report = normalize(
            pieces, groups, out.loudness, out.true_peak, ENCODER_HEADROOM.get(ctx.compiled.plan.format, 0.0))
        ctx.report[self.name] = report
        episode = report.get("integrated_lufs")
        for name, figures in report.get("speakers", {}).items():
            under = None if episode is None or figures["integrated_lufs"] is None \
                else episode - figures["integrated_lufs"]
            if figures.get("held_by_peaks") and under is not None and under > 1.0:
                ctx.notes.append(
                    f"{ctx.compiled.episode.path.name}: speaker {name} ends {under:.1f} LU under the episode: "
                    "the peaks of the voice stand too far above its loudness for the limiter to bring it up "
                    "(see steps.loudness in the manifest); compress it before podpipe or choose another voice")


class ChaptersStep(MixStep):
    """``<stem>.chapters.json`` (Podcasting 2.0) beside an output whose episode has chapters; the chapters
    inside the file are written by the encoder (see ``_encode``)."""

    name = "chapters"

    def settings(self, compiled: CompiledEpisode) -> Any:
        from podpipe.mix.steps.chapters import JSON_VERSION

        return {"json": JSON_VERSION}  # the marks themselves are in every piece record

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        from podpipe.mix.steps.chapters import chapters, podcasting20_json

        marks = chapters(ctx.pieces, ctx.seconds)
        if not marks:
            return []
        path = output.with_name(output.stem + ".chapters.json")
        write_atomic(path, podcasting20_json(marks))
        return [path]


class TagsStep(MixStep):
    """Finishes the tags ffmpeg wrote (``podpipe.mix.steps.tags.finish``): cover art from ``artwork:`` (ID3 APIC,
    MP4 ``covr``, FLAC picture, Opus METADATA_BLOCK_PICTURE), the description as an ID3 COMM frame, and
    CHAPTERxxx comments in ogg and flac. WAV carries none of these."""

    name = "tags"
    VERSION = 1

    def settings(self, compiled: CompiledEpisode) -> Any:
        if compiled.plan.format == "wav":
            return None
        art = getattr(compiled.episode, "artwork", None)
        return {"version": self.VERSION, "artwork": None if art is None else {
            "path": _relative(art, compiled.episode.path.parent), "sha256": sound_sha256(art)}}

    def edit_output(self, ctx: MixContext, path: Path) -> None:
        fmt = ctx.compiled.plan.format
        if fmt == "wav":
            return
        from podpipe.mix.steps.chapters import chapters
        from podpipe.mix.steps.tags import finish

        art = getattr(ctx.compiled.episode, "artwork", None)
        finish(path, fmt, artwork=None if art is None else Path(art),
               description=ctx.compiled.episode.description, marks=chapters(ctx.pieces, ctx.seconds))


class TranscriptStep(MixStep):
    """``<stem>.vtt`` (WebVTT, ``<v Speaker>`` voice spans) and ``<stem>.srt`` beside the output
    (``podpipe.mix.steps.transcript``)."""

    name = "transcript"
    VERSION = 2

    def settings(self, compiled: CompiledEpisode) -> Any:
        from podpipe.mix.steps import transcript as t

        return {"version": self.VERSION, "min_pause": t.MIN_PAUSE, "quiet_db": t.QUIET_DB,
                "line": t.LINE_CHARS, "max_seconds": t.MAX_CUE_SECONDS}

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        from podpipe.mix.steps import transcript as t

        cues, methods = t.cues(ctx.pieces)
        if not cues:
            return []
        ctx.report[self.name] = {"cues": len(cues), "turn_boundaries": methods}
        written = []
        for suffix, render in ((".vtt", t.webvtt), (".srt", t.srt)):
            path = output.with_name(output.stem + suffix)
            write_atomic(path, render(cues))
            written.append(path)
        return written


DEFAULT_STEPS: tuple[MixStep, ...] = (FormatStep(), MusicStep(), LoudnessStep(), ChaptersStep(), TagsStep(), TranscriptStep())


# --- digest and up-to-date check (stdlib only: the no-op build runs this for every episode) -----------------

def manifest_path(output: Path) -> Path:
    return Path(output).with_name(Path(output).stem + ".manifest.json")


def episode_tags(compiled: CompiledEpisode) -> dict[str, str]:
    """Metadata written into the output's tags (ID3 for MP3)."""
    ep = compiled.episode
    tags = {"title": ep.title, "artist": ep.author, "album": ep.show or ep.author,
            "track": None if ep.episode is None else str(ep.episode), "comment": ep.description,
            "genre": "Podcast", "date": getattr(ep, "date", None)}
    return {k: v for k, v in tags.items() if v}


_sound_hashes: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sound_sha256(path: Path) -> str:
    """Content hash of a sound file, computed once per process for a given (path, size, mtime)."""
    try:
        st = os.stat(path)
    except OSError:
        raise UsageError(f"{path}: sound file not found") from None
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    if key not in _sound_hashes:
        _sound_hashes[key] = _file_sha256(path)
    return _sound_hashes[key]


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


def _piece_record(piece: Piece, spec_dir: Path) -> dict[str, Any]:
    """The identity of a piece for the digest: everything that changes the audio or the manifest."""
    base = {"kind": _KINDS[type(piece)], "segment_id": piece.segment_id, "segment_index": piece.segment_index,
            "chapter": piece.chapter}
    if isinstance(piece, SpeechPiece):
        return {**base, "key": piece.key, "speakers": list(piece.speakers),
                "turns": [[t.speaker, t.shown] for t in piece.turns]}
    if isinstance(piece, SilencePiece):
        return {**base, "seconds": piece.seconds, "reason": piece.reason}
    return {**base, "path": _relative(piece.path, spec_dir), "sha256": sound_sha256(piece.path),
            "gain_db": piece.gain_db, "fade_in": piece.fade_in, "fade_out": piece.fade_out}


def inputs_digest(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS) -> str:
    """sha256 of the canonical JSON of everything that determines the mixed output."""
    spec_dir = compiled.episode.path.parent
    doc = {
        "mix_version": MIX_VERSION,
        "format": compiled.plan.format,
        "channels": CHANNELS,
        "tags": episode_tags(compiled),
        "pieces": [_piece_record(p, spec_dir) for p in compiled.plan.pieces],
        "steps": [[s.name, s.settings(compiled)] for s in steps],
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_up_to_date(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS) -> bool:
    """True when the manifest says the output was mixed from exactly these inputs and the file is intact."""
    output = compiled.plan.output
    man_path = manifest_path(output)
    try:
        manifest = json.loads(man_path.read_bytes())
        recorded = manifest["output"]
        if (manifest.get("manifest_version") != MANIFEST_VERSION
                or recorded["path"] != _relative(output, man_path.parent)
                or manifest["inputs_digest"] != inputs_digest(compiled, steps)):
            return False
        st = os.stat(output)
        if st.st_size != recorded["size"]:
            return False
        # an untouched file is trusted; a touched one (copied, checked out) must still hash the same
        if st.st_mtime_ns != recorded["mtime_ns"] and _file_sha256(output) != recorded["sha256"]:
            return False
        return all((man_path.parent / name).is_file() for name in manifest.get("sidecars", []))
    except (OSError, ValueError, KeyError, TypeError, PodpipeError):
        return False


# --- exporters: one per format ------------------------------------------------------------------------------
# An exporter writes the episode to ``path`` (a temporary file that replaces the output on success) and
# returns the sha256 of what it wrote when it knows it for free, else None (the file is hashed afterwards).

def _export_wav(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    import threading

    from podpipe.audio import wav_header

    header = wav_header(ctx.frames, ctx.rate, ctx.channels)
    digest = hashlib.sha256(header)
    # hashing and writing both release the GIL: on two cores the hash costs no wall time
    hasher = threading.Thread(target=lambda: [digest.update(c) for c in ctx.chunks], daemon=True)
    hasher.start()
    try:
        with open(path, "wb") as f:
            f.write(header)
            for chunk in ctx.chunks:
                f.write(chunk)
    finally:
        hasher.join()
    return digest.hexdigest()


def _codec_args(fmt: str, ctx: MixContext) -> list[str]:
    kbps = getattr(_output(ctx.compiled), "bitrate", None) or DEFAULT_BITRATES.get(fmt)
    if fmt == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", f"{kbps}k", "-id3v2_version", "3", "-write_id3v1", "0",
                "-f", "mp3"]
    if fmt == "m4a":  # AAC-LC in an MP4 container, index first so players can start before the download ends
        return ["-c:a", "aac", "-b:a", f"{kbps}k", "-movflags", "+faststart", "-f", "ipod"]
    if fmt == "ogg":
        return ["-c:a", "libopus", "-b:a", f"{kbps}k", "-application", "audio", "-f", "ogg"]
    if fmt == "flac":
        return ["-c:a", "flac", "-compression_level", "8", "-f", "flac"]
    raise ValueError(fmt)


def _encode(fmt: str, ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    """Pipe the episode's PCM through ffmpeg's encoder for ``fmt`` into ``path``, with the chapters."""
    import tempfile

    from podpipe import audio as pcm
    from podpipe.mix.steps.chapters import chapters, ffmetadata

    cmd = [pcm.ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
           "-f", "s16le", "-ar", str(ctx.rate), "-ac", str(ctx.channels), "-i", "pipe:0"]
    # ffmpeg writes chapters natively as ID3 CHAP+CTOC and MP4 chapters; its Vorbis CHAPTERxxx comments are
    # off by a second (seen with ffmpeg 7), so ogg and flac get theirs from ``tags.finish`` instead
    marks = chapters(ctx.pieces, ctx.seconds) if fmt in ("mp3", "m4a") else []
    with contextlib.ExitStack() as stack:
        if marks:
            meta = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8"))
            meta.write(ffmetadata(marks))
            meta.flush()
            cmd += ["-f", "ffmetadata", "-i", meta.name, "-map", "0:a", "-map_chapters", "1"]
        cmd += ["-fflags", "+bitexact", "-flags:a", "+bitexact"]  # no encoder version string: reproducible
        cmd += _codec_args(fmt, ctx)[:-2]
        for key, value in tags.items():
            cmd += ["-metadata", f"{key}={value}"]
        cmd += _codec_args(fmt, ctx)[-2:] + ["-y", os.fspath(path)]
        _run_encoder(fmt, cmd, ctx)
    return None


def _run_encoder(fmt: str, cmd: list[str], ctx: MixContext) -> None:
    import subprocess  # nosec B404  # ffmpeg only, fixed argv, no shell
    import tempfile

    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: ffmpeg can never block on it
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)  # nosec B603  # fixed argv
        except OSError as exc:
            raise UsageError(f"cannot run ffmpeg ({cmd[0]}): {exc}") from None
        try:
            with contextlib.suppress(BrokenPipeError):  # ffmpeg quit early: its exit code and message say why
                for chunk in ctx.chunks:
                    proc.stdin.write(chunk)
                proc.stdin.close()
            code = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted while feeding it
                proc.kill()
                proc.wait()
        if code != 0:
            errors.seek(0)
            detail = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise PodpipeError(f"ffmpeg failed to encode {fmt.upper()} (exit {code}): "
                               f"{detail[-1] if detail else 'no message'}")


def _encode_lossy(fmt: str, ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    """Encode; when the episode is loudness-normalized, decode the file, measure it, and encode once more
    with a correction if the encoder moved it off the target or over the ceiling."""
    _encode(fmt, ctx, path, tags)
    report = ctx.report.get(LoudnessStep.name)
    if report is None:
        return None
    from podpipe import audio as pcm
    from podpipe.mix.steps.loudness import ENCODER_HEADROOM, correct_encoded

    out = _output(ctx.compiled)
    decoded = pcm.load_sound(path, ctx.rate, ctx.channels)
    fixed = correct_encoded(ctx.audio, decoded, report, out.true_peak, ENCODER_HEADROOM.get(fmt, 0.0))
    del decoded
    if fixed is not None:
        ctx.audio = fixed
        _encode(fmt, ctx, path, tags)
    return None


def _export_mp3(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    return _encode_lossy("mp3", ctx, path, tags)


def _export_m4a(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    return _encode_lossy("m4a", ctx, path, tags)


def _export_ogg(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    return _encode_lossy("ogg", ctx, path, tags)


def _export_flac(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    return _encode("flac", ctx, path, tags)


EXPORTERS: dict[str, Callable[[MixContext, Path, dict[str, str]], str | None]] = {
    "wav": _export_wav, "mp3": _export_mp3, "m4a": _export_m4a, "ogg": _export_ogg, "flac": _export_flac}


# --- stitching -----------------------------------------------------------------------------------------

def _crossfades(before: Piece, after: Piece) -> bool:
    """``output.crossfade`` joins a sound to the speech or sound next to it; silences keep their length."""
    if isinstance(before, SilencePiece) or isinstance(after, SilencePiece):
        return False
    return isinstance(before, SoundPiece) or isinstance(after, SoundPiece)


def mix_episode(compiled: CompiledEpisode, audio_for: Callable[[str], Audio],
                steps: Sequence[MixStep] = DEFAULT_STEPS) -> MixResult:
    """Stitch, export and write the manifest. ``audio_for(key)`` returns a speech piece's cached render;
    whatever it raises (e.g. ``LookupError`` for a damaged entry) propagates and nothing is written."""
    from podpipe import audio as pcm

    plan = compiled.plan
    exporter = EXPORTERS.get(plan.format)
    if exporter is None:
        raise UsageError(f"{compiled.episode.path}: output.format {plan.format!r} is not supported; "
                         f"choose one of {', '.join(EXPORTERS)}")
    digest = inputs_digest(compiled, steps)  # before any work: a missing sound fails fast

    # each distinct render once; the episode rate is known only when all are loaded
    speech: dict[str, Audio] = {}
    located: dict[str, tuple[tuple[float, ...], str]] = {}
    for piece in plan.pieces:
        if isinstance(piece, SpeechPiece) and piece.key not in speech:
            speech[piece.key] = audio_for(piece.key)
            if len(piece.turns) > 1:  # who speaks when inside a multi-speaker render (seconds: rate-free)
                from podpipe.mix.steps.transcript import locate_turns

                located[piece.key] = locate_turns(speech[piece.key], [t.text for t in piece.turns])
    rate = max((a.rate for a in speech.values()), default=DEFAULT_RATE)
    for key in speech:  # converted one at a time so an original can be freed before the next is copied
        speech[key] = pcm.convert(speech[key], rate, CHANNELS)

    frame = SAMPLE_WIDTH * CHANNELS
    chunks: list[bytes] = []
    placed: list[PlacedPiece] = []
    silences: dict[int, bytes] = {}
    sounds: dict[tuple, bytes] = {}
    position = 0
    xfade = max(0, round(getattr(compiled.episode.output, "crossfade", 0.0) * rate))
    for piece in plan.pieces:
        if isinstance(piece, SpeechPiece):
            data = speech[piece.key].pcm
        elif isinstance(piece, SilencePiece):
            n = max(0, round(piece.seconds * rate))
            if n not in silences:  # gaps repeat: one buffer per length
                silences[n] = bytes(n * frame)
            data = silences[n]
        else:
            ident = (piece.path, piece.gain_db, piece.fade_in, piece.fade_out)
            if ident not in sounds:
                sound = pcm.load_sound(piece.path, rate, CHANNELS)
                sounds[ident] = pcm.fade(pcm.gain(sound, piece.gain_db), piece.fade_in, piece.fade_out).pcm
            data = sounds[ident]
        n_frames = len(data) // frame
        if xfade and placed and _crossfades(placed[-1].piece, piece):
            overlap = min(xfade, n_frames, len(chunks[-1]) // frame)
            if overlap:  # the sound and its neighbour overlap: one fades out while the other fades in
                cut = overlap * frame
                mixed = pcm.crossfade_join(chunks[-1][-cut:], data[:cut], rate, CHANNELS)
                chunks[-1] = chunks[-1][:-cut]
                data = mixed + data[cut:]
                position -= overlap
        bounds, method = located.get(getattr(piece, "key", None), ((), "exact"))
        placed.append(PlacedPiece(piece, position, position + n_frames, rate, bounds, method))
        chunks.append(data)
        position += n_frames
    del speech, sounds, silences  # only ``chunks`` references the audio from here on
    ctx = MixContext(compiled, tuple(placed), rate, CHANNELS, chunks)
    del chunks
    for step in steps:
        step.process(ctx)

    output = Path(plan.output)
    with atomic_path(output) as tmp:
        sha256 = exporter(ctx, tmp, episode_tags(compiled))
        for step in steps:
            if type(step).edit_output is not MixStep.edit_output:
                step.edit_output(ctx, tmp)
                sha256 = None  # the exporter's hash no longer describes the file
    written: list[Path] = []
    for step in steps:
        written += step.sidecars(ctx, output)

    man_path = manifest_path(output)
    write_atomic(man_path, _manifest_json(compiled, ctx, output, man_path, digest, sha256, written))
    return MixResult(output, man_path, ctx.seconds, ctx.rate, ctx.pieces, digest, tuple(written), tuple(ctx.notes))


def _manifest_json(compiled: CompiledEpisode, ctx: MixContext, output: Path, man_path: Path, digest: str,
                   sha256: str | None, sidecars: list[Path]) -> bytes:
    here = man_path.parent
    st = os.stat(output)
    pieces = []
    for i, placed in enumerate(ctx.pieces):
        p = placed.piece
        entry: dict[str, Any] = {"index": i, "kind": placed.kind, "start": placed.start, "end": placed.end,
                                 "segment_id": p.segment_id, "segment_index": p.segment_index,
                                 "chapter": p.chapter}
        if isinstance(p, SpeechPiece):
            entry |= {"speakers": list(p.speakers), "key": p.key, "turns": [
                {"speaker": t.speaker, "text": t.shown, "start": a, "end": b} for a, b, t in placed.turn_spans()]}
            if len(p.turns) > 1:
                entry["turns_located_by"] = placed.bounds_method
        elif isinstance(p, SilencePiece):
            entry |= {"reason": p.reason}
        else:
            entry |= {"path": _relative(p.path, here), "gain_db": p.gain_db, "fade_in": p.fade_in,
                      "fade_out": p.fade_out}
        pieces.append(entry)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "podpipe": __version__,
        "mix_version": MIX_VERSION,
        "spec": _relative(compiled.episode.path, here),
        "title": compiled.episode.title,
        "output": {"path": _relative(output, here), "format": compiled.plan.format, "size": st.st_size,
                   "sha256": sha256 or _file_sha256(output), "mtime_ns": st.st_mtime_ns},
        "sample_rate": ctx.rate,
        "channels": ctx.channels,
        "frames": ctx.frames,
        "duration": ctx.seconds,
        "inputs_digest": digest,
        "sidecars": [_relative(p, here) for p in sidecars],
    }
    if ctx.report:
        manifest["steps"] = ctx.report
    # one piece per line: readable, diffable, and written by the C encoder (indent= would use the slow one)
    head = json.dumps(manifest, indent=1, ensure_ascii=False)[:-2]
    body = ",\n  ".join(json.dumps(p, ensure_ascii=False) for p in pieces)
    return f'{head},\n "pieces": [\n  {body}\n ]\n}}\n'.encode("utf-8")
