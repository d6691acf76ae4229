"""Writing the finished episode to a file, streaming: the stitched PCM pieces, with the loudness step's gains
applied block by block (``loudness.blocks``), go through one ffmpeg that converts the rate and channels,
encodes and writes the output, never joined (a WAV that needs no conversion is written by podpipe itself).

The same ffmpeg decodes what it encoded (a loopback decoder, ffmpeg 7 and later) and meters it with its
``ebur128`` filter while the encoder runs: the loudness and true peak reported are those of the file
written, at the cost of no extra pass. Only when the file misses the target by more than the tolerance, or
passes the ceiling, is it written a second time with corrected gains (``Leveling.correct``). With an older
ffmpeg the written file is metered in a second run.

The output's sample rate and channel count are set by the first post-stitch step (``FormatStep``), before
anything measures the audio, so the loudness and true peak reported are those of the file written. The rate
comes from the spec, else from the format's row in ``formats.FORMATS`` (44.1 kHz for MP3, 48 kHz for Opus,
…), else the speech's. Resampling uses ffmpeg's filtered resampler (linear interpolation would leave audible
images at 44.1 kHz). Speech alone is converted by the exporter's ffmpeg on the way to the file: every pass
before it then runs at the speech's rate, on half the frames, and no converted copy of the episode is ever
held. An episode with music beds is converted by the step, before the beds are mixed in, so they keep what
they have above the speech's Nyquist frequency.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.formats import FORMATS, Format, output_format
from podpipe.mix.context import Chapter, MixContext, MixStep, chapters

LOOPBACK_MAJOR = 7  # ffmpeg 7.0 brought loopback decoders (``-dec``)
SILENT = -70.0


def output_rate(compiled: CompiledEpisode) -> int | None:
    """The sample rate the output is written at; None keeps the stitch rate (the speech's)."""
    fmt = FORMATS.get(compiled.rundown.format)
    return compiled.episode.output.sample_rate or (fmt.rate if fmt else None)


class FormatStep(MixStep):
    """The output's sample rate and channel count: set on the audio when music beds follow, else left to the
    exporter's ffmpeg (``MixContext.output_rate``/``output_channels``)."""

    name = "format"

    def settings(self, compiled: CompiledEpisode) -> Any:
        out = compiled.episode.output
        settings = {"rate": output_rate(compiled), "channels": out.channels, "bitrate": out.bitrate}
        if out.crossfade:
            settings["crossfade"] = out.crossfade
        return settings

    def process(self, ctx: MixContext) -> None:
        from podpipe import audio as pcm

        rate = output_rate(ctx.compiled) or ctx.rate
        channels = ctx.compiled.episode.output.channels
        if (rate, channels) == (ctx.rate, ctx.channels):
            return
        if ctx.compiled.episode.music:
            ctx.audio = pcm.ffmpeg_convert(ctx.audio, rate, channels)
        else:
            ctx.output_rate, ctx.output_channels = rate, channels


def export(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    """Write ``ctx``'s audio to ``path`` in the episode's format with ``tags``. Returns the sha256 of what was
    written when known for free, else None (the caller hashes the file)."""
    fmt = output_format(ctx.compiled.rundown.format, ctx.compiled.episode.path)
    leveling = ctx.leveling
    measured, sha256 = encode(fmt, ctx, path, tags, meter=leveling is not None)
    if leveling is not None:
        if leveling.correct(*measured) is not None:
            measured, sha256 = encode(fmt, ctx, path, tags, meter=True)
        from podpipe.mix.loudness.episode import held_notes

        record = leveling.finish(*measured)  # the loudness step's record in the manifest, completed in place
        ctx.notes += held_notes(record, ctx.compiled.episode.path.name)
    return sha256


def encode(fmt: Format, ctx: MixContext, path: Path, tags: dict[str, str], *,
           meter: bool = False) -> tuple[tuple[float, float] | None, str | None]:
    """Pipe the episode's PCM (with the leveling's gains, if any) through ffmpeg's encoder for ``fmt`` into
    ``path``, with the chapters. Returns (with ``meter``: integrated LUFS and true peak dBTP of the file
    written, the file's sha256 when known without reading it back)."""
    from podpipe.audio import run_ffmpeg
    from podpipe.audio_types import Audio

    pieces = [Audio(chunk, ctx.rate, ctx.channels) for chunk in ctx.chunks if chunk]
    if ctx.leveling is not None:
        from podpipe.mix.loudness.blocks import apply

        feed = apply(ctx.leveling.curve, pieces)
    else:
        feed = iter(ctx.chunks)
    converting = (ctx.out_rate, ctx.out_channels) != (ctx.rate, ctx.channels)
    if fmt.muxer == "wav" and not converting:
        # own writer: a pipe through ffmpeg costs more than the whole stitch of an hour (1.2 s vs 0.2 s)
        sha256 = write_wav(ctx, path, feed)
        if not meter:
            return None, sha256
        with tempfile.TemporaryDirectory(prefix="podpipe-export-") as workdir:
            run_ffmpeg(["-i", os.fspath(path), *meter_args("[0:a]", workdir)], f"ffmpeg could not measure {path}")
            return read_meter(workdir), sha256

    args = ["-f", "s16le", "-ar", str(ctx.rate), "-ac", str(ctx.channels), "-i", "pipe:0"]
    marks = chapters(ctx.pieces, ctx.seconds) if fmt.chapters == "ffmpeg" else []
    loopback = meter and ffmpeg_major() >= LOOPBACK_MAJOR
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="podpipe-export-"))
        if marks:
            meta = os.path.join(workdir, "chapters.txt")
            Path(meta).write_text(ffmetadata(marks), encoding="utf-8")
            args += ["-f", "ffmetadata", "-i", meta, "-map_chapters", "1"]
        args += ["-map", "0:a", "-fflags", "+bitexact", "-flags:a", "+bitexact"]  # reproducible: no version
        if converting:
            args += ["-ar", str(ctx.out_rate), "-ac", str(ctx.out_channels)]
        args += fmt.encoder_args(ctx.compiled.episode.output.bitrate)
        for key, value in (tags.items() if fmt.tags else ()):  # a WAV carries none (no LIST chunk)
            args += ["-metadata", f"{key}={value}"]
        args += ["-f", fmt.muxer, "-y", os.fspath(path)]
        if loopback:
            args += ["-dec", "0:0", *meter_args("[dec:0]", workdir)]
        run_ffmpeg(args, f"ffmpeg failed to encode {fmt.name.upper()} into {ctx.compiled.rundown.output}", feed=feed)
        if not meter:
            return None, None
        if not loopback:
            run_ffmpeg(["-i", os.fspath(path), *meter_args("[0:a]", workdir)], f"ffmpeg could not measure {path}")
        return read_meter(workdir), None


def _escape(value: str) -> str:
    for ch in "\\=;#\n":
        value = value.replace(ch, "\\" + ch)
    return value


def ffmetadata(marks: Sequence[Chapter]) -> str:
    """FFMETADATA1 with one [CHAPTER] per chapter, times in milliseconds."""
    lines = [";FFMETADATA1"]
    for c in marks:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(c.start * 1000)}",
                  f"END={round(c.end * 1000)}", f"title={_escape(c.title)}"]
    return "\n".join(lines) + "\n"


def write_wav(ctx: MixContext, path: Path, blocks: Iterator[bytes]) -> str:
    """The header, then every block as it comes; hashed on another thread while it is written."""
    import hashlib
    import queue
    import threading

    from podpipe.audio import wav_header

    header = wav_header(ctx.frames, ctx.rate, ctx.channels)
    digest = hashlib.sha256(header)
    todo: queue.Queue = queue.Queue(maxsize=8)
    # hashing and writing both release the GIL: on two cores the hash costs no wall time
    hasher = threading.Thread(target=lambda: [digest.update(b) for b in iter(todo.get, None)], daemon=True)
    hasher.start()
    try:
        with open(path, "wb") as f:
            f.write(header)
            for block in blocks:
                todo.put(block)
                f.write(block)
    finally:
        todo.put(None)
        hasher.join()
    return digest.hexdigest()


def meter_args(source: str, workdir: str) -> list[str]:
    """An extra ffmpeg output that runs ``source`` through ``ebur128`` (true peak on) into nothing, printing
    the running integrated loudness and true peak into files in ``workdir`` (``read_meter``)."""
    if "'" in workdir or "\\" in workdir:
        raise ValueError(f"temporary directory {workdir!r} cannot be named in a filter graph")
    graph = (f"{source}ebur128=peak=true:framelog=quiet:metadata=1,"
             f"ametadata=mode=print:key=lavfi.r128.I:file='{workdir}/i.txt',"
             f"ametadata=mode=print:key=lavfi.r128.true_peak:file='{workdir}/tp.txt'[metered]")
    return ["-filter_complex", graph, "-map", "[metered]", "-f", "null", "-"]


def read_meter(workdir: str) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) from the last values ``meter_args`` printed; -inf when none."""
    def last(name: str, key: str) -> float:
        try:
            with open(os.path.join(workdir, name), "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
                found = re.findall(rf"{re.escape(key)}=(-?[\d.]+|-?inf|nan)".encode(), f.read())
        except FileNotFoundError:
            found = []
        value = float(found[-1]) if found else -math.inf
        return value if math.isfinite(value) else -math.inf

    lufs = last("i.txt", "lavfi.r128.I")
    peak = last("tp.txt", "lavfi.r128.true_peak")
    # ebur128 says -70 (its absolute gate) for audio with no block to measure
    return lufs if lufs > SILENT else -math.inf, 20 * math.log10(peak) if peak > 0 else -math.inf


@functools.cache
def ffmpeg_major() -> int:
    """The major version of the ffmpeg binary podpipe runs; a build from git (no release number) counts as
    new."""
    import subprocess  # nosec B404  # ffmpeg only, fixed argv, no shell

    from podpipe.audio import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-version"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout  # nosec B603  # fixed argv
    except (OSError, subprocess.SubprocessError):
        return 0
    found = re.match(r"ffmpeg version n?(\d+)\.", out)
    return int(found.group(1)) if found else 99
