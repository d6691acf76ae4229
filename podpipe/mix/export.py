"""Writing the finished episode to a file, streaming: the PCM chunks go to the file (WAV) or through
ffmpeg's encoder (every other format, see ``formats.FORMATS``) one after the other, never joined.

An export writes to a temporary path that replaces the output on success, and returns the sha256 of what it
wrote when it knows it for free (WAV), else None (the file is hashed afterwards). A lossy export of a
loudness-normalized episode is decoded and measured once written, and encoded once more with a correction
when the encoder moved it off the target or over the ceiling.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from pathlib import Path

from podpipe.mix.context import MixContext
from podpipe.mix.formats import Format, output_format


def export(ctx: MixContext, path: Path, tags: dict[str, str]) -> str | None:
    """Write ``ctx``'s audio to ``path`` in the episode's format with ``tags``; the sha256 written, or None."""
    fmt = output_format(ctx.compiled.plan.format, ctx.compiled.episode.path)
    if not fmt.encoder:
        return write_wav(ctx, path)
    encode(fmt, ctx, path, tags)
    if fmt.lossy:
        recheck_loudness(fmt, ctx, path, tags)
    return None


def write_wav(ctx: MixContext, path: Path) -> str:
    """The header, then every chunk; hashed while it is written."""
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


def encode(fmt: Format, ctx: MixContext, path: Path, tags: dict[str, str]) -> None:
    """Pipe the episode's PCM through ffmpeg's encoder for ``fmt`` into ``path``, with the chapters."""
    from podpipe.audio import run_ffmpeg
    from podpipe.mix.steps.chapters import chapters, ffmetadata

    args = ["-f", "s16le", "-ar", str(ctx.rate), "-ac", str(ctx.channels), "-i", "pipe:0"]
    marks = chapters(ctx.pieces, ctx.seconds) if fmt.chapters == "ffmpeg" else []
    with contextlib.ExitStack() as stack:
        if marks:
            meta = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8"))
            meta.write(ffmetadata(marks))
            meta.flush()
            args += ["-f", "ffmetadata", "-i", meta.name, "-map", "0:a", "-map_chapters", "1"]
        args += ["-fflags", "+bitexact", "-flags:a", "+bitexact"]  # no encoder version string: reproducible
        args += fmt.encoder_args(ctx.compiled.episode.output.bitrate)
        for key, value in tags.items():
            args += ["-metadata", f"{key}={value}"]
        args += ["-f", fmt.muxer, "-y", os.fspath(path)]
        run_ffmpeg(args, f"ffmpeg failed to encode {fmt.name.upper()}", feed=ctx.chunks)


def recheck_loudness(fmt: Format, ctx: MixContext, path: Path, tags: dict[str, str]) -> None:
    """When the episode is loudness-normalized, decode the encoded file, measure it, and encode once more
    with a correction if the encoder moved it off the target or over the ceiling."""
    from podpipe.mix.steps.loudness import LoudnessStep

    report = ctx.report.get(LoudnessStep.name)
    if report is None:
        return
    from podpipe.mix import segments
    from podpipe.mix.steps.loudness.solve import correct_encoded

    decoded = segments.to_audio(segments.load(path, ctx.rate, ctx.channels))
    fixed = correct_encoded(ctx.audio, decoded, report, ctx.compiled.episode.output.true_peak, fmt.headroom)
    del decoded
    if fixed is not None:
        ctx.audio = fixed
        encode(fmt, ctx, path, tags)
