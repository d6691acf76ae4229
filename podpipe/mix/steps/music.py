"""Music beds: a file looped (or played once) under a range of the episode, faded in and out, and ducked
under speech.

Ducking follows the mix's own speech pieces, which are known to the sample, so no detector can miss a quiet
word: the bed goes down by ``duck_db`` starting ``ATTACK`` seconds before speech begins, stays down while
it lasts (and through pauses shorter than ``BRIDGE`` — a bed that bobs up in every gap sounds nervous), and
comes back up over ``RELEASE`` seconds after it. Ramps are linear in amplitude. Work is done in blocks, in
place on one 16-bit copy of the episode, so a long episode is never held as floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podpipe.audio_types import Audio
from podpipe.compile import CompiledEpisode
from podpipe.mix.context import MixContext, MixStep
from podpipe.mix.manifest import relative, sound_sha256

ATTACK = 0.25  # seconds
RELEASE = 0.8
BRIDGE = 1.5  # speech closer than this stays under one duck
_BLOCK = 1 << 20


def speech_spans(placed: Sequence) -> list[tuple[float, float]]:
    """Merged (start, end) seconds of the speech pieces of a mix."""
    spans: list[list[float]] = []
    for p in placed:
        if getattr(p.piece, "turns", None) is None:
            continue
        if spans and p.start - spans[-1][1] < BRIDGE:
            spans[-1][1] = max(spans[-1][1], p.end)
        else:
            spans.append([p.start, p.end])
    return [(a, b) for a, b in spans]


def duck_curve(spans: Sequence[tuple[float, float]], duck_db: float) -> tuple[list[float], list[float]]:
    """Breakpoints (times, gains) of the ducking envelope; 1.0 before, between and after."""
    low = 10 ** (duck_db / 20)
    xs, ys = [], []
    for a, b in spans:
        xs += [a - ATTACK, a, b, b + RELEASE]
        ys += [1.0, low, low, 1.0]
    return xs, ys


@dataclass(frozen=True)
class PlacedBed:
    """One bed as mixed: its audio (float frames at the episode's rate), where it starts, how many frames it
    plays, and the pieces of its gain (``gain``)."""

    music: Any
    start: int
    length: int
    base: float
    xs: list[float]
    ys: list[float]
    fade_in: int
    fade_out: int
    rate: int

    def gain(self, k):
        """The bed's gain at its frames ``k`` (0 = its first frame): level, ducking, fades."""
        import numpy as np

        gain = np.full(len(k), self.base, dtype=np.float64)
        if self.xs:
            gain *= np.interp((self.start + k) / self.rate, self.xs, self.ys, left=1.0, right=1.0)
        if self.fade_in:
            gain *= np.clip(k / self.fade_in, 0.0, 1.0)
        if self.fade_out:
            gain *= np.clip((self.length - k) / self.fade_out, 0.0, 1.0)
        return gain


def place_beds(frames: int, rate: int, channels: int, beds: Sequence[tuple[Any, float, float]],
               spans: Sequence[tuple[float, float]]) -> list[tuple[Any, PlacedBed]]:
    """Each ``(MusicBed, start_s, end_s)`` that plays at all, with its audio and gain."""
    from podpipe.mix import clips
    from podpipe.mix.loudness.blocks import to_float

    placed = []
    for bed, start, end in beds:
        music = to_float(clips.to_audio(clips.load(bed.path, rate, channels)))
        a = max(0, round(start * rate))
        b = min(frames, round(end * rate))
        length = b - a if bed.loop else min(b - a, len(music))
        if length <= 0:
            continue
        xs, ys = duck_curve(spans, bed.duck_db)
        placed.append((bed, PlacedBed(music, a, length, 10 ** (bed.gain_db / 20), xs, ys, round(bed.fade_in * rate),
                                      round(bed.fade_out * rate), rate)))
    return placed


def mix_beds(chunks: list[bytes], rate: int, channels: int, beds: Sequence[PlacedBed]) -> Audio:
    """Add each bed to the episode given as its consecutive PCM ``chunks``.

    The chunks are handed over: copied once into the result and the list emptied, so each is freed unless
    it is shared. The result is then mixed in place block by block (16-bit → float → 16-bit, rounded and
    clipped): the episode is never held as floats, and the result is the only new full-length buffer."""
    import numpy as np

    out = bytearray(sum(map(len, chunks)))
    view, at, chunk = memoryview(out), 0, b""
    for chunk in chunks:
        view[at:at + len(chunk)] = chunk
        at += len(chunk)
    del view, chunk
    chunks.clear()
    x = np.frombuffer(out, dtype="<i2").reshape(-1, channels)
    for bed in beds:
        a, music = bed.start, bed.music
        for lo in range(0, bed.length, _BLOCK):
            hi = min(bed.length, lo + _BLOCK)
            k = np.arange(lo, hi)
            y = np.empty((hi - lo, channels), dtype=np.float32)
            np.multiply(x[a + lo:a + hi], 1 / 32768, out=y, casting="unsafe")
            y += music[k % len(music)] * bed.gain(k)[:, None].astype(np.float32)
            y = np.rint(y * 32768)
            np.clip(y, -32768, 32767, out=y)
            x[a + lo:a + hi] = y
    del x
    return Audio(out, rate, channels)


def bed_figures(bed: PlacedBed, frames: int) -> tuple[Any, Any]:
    """What ``bed`` adds to the episode's loudness figures, per 10 ms window of the episode: energy (bed and
    speech are unrelated, so their energies add) and a bound of its peak (peaks add at worst), computed from
    the bed file's own figures and the bed's gain, so the mixed episode is never measured."""
    import numpy as np

    from podpipe.mix.loudness.figures import analyze_array, first_window, window_edges

    edges = window_edges(bed.rate, frames)
    energy, peak = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1, dtype=np.float32)
    music = analyze_array(bed.music, bed.rate)
    ws = np.arange(first_window(bed.start, bed.rate), first_window(bed.start + bed.length - 1, bed.rate) + 1)
    lo = np.maximum(edges[ws], bed.start) - bed.start
    hi = np.minimum(edges[ws + 1], bed.start + bed.length) - bed.start
    mid = (lo + hi) // 2
    span = max(1, len(bed.music))
    at = np.minimum(len(music.energy) - 1, (mid % span) * 100 // bed.rate)
    after = np.minimum(len(music.energy) - 1, at + 1)
    window = bed.rate / 100
    energy[ws] = bed.gain(mid) ** 2 * music.energy[at] * (hi - lo) / window
    loudest = np.maximum.reduce([bed.gain(lo), bed.gain(mid), bed.gain(np.maximum(lo, hi - 1))])
    peak[ws] = loudest * np.maximum(music.peak[at], music.peak[after])
    return energy, peak


class MusicStep(MixStep):
    """The beds of ``music:``, mixed in after stitching (each bed's range of segments is known only then)."""

    name = "music"
    VERSION = 1

    def settings(self, compiled: CompiledEpisode) -> Any:
        beds = compiled.episode.music
        if not beds:
            return None
        here = compiled.episode.path.parent
        return {"version": self.VERSION, "attack": ATTACK, "release": RELEASE, "bridge": BRIDGE,
                "beds": [{"path": relative(b.path, here), "sha256": sound_sha256(b.path),
                          "from": b.start_segment, "to": b.end_segment, "gain_db": b.gain_db,
                          "duck_db": b.duck_db, "fade_in": b.fade_in, "fade_out": b.fade_out, "loop": b.loop}
                         for b in beds]}

    def process(self, ctx: MixContext) -> None:
        beds = ctx.compiled.episode.music
        if not beds:
            return
        placed = []
        for bed in beds:
            last = bed.end_segment if bed.end_segment >= 0 else max(
                (p.piece.segment_index for p in ctx.pieces if p.piece.segment_index is not None), default=0)
            inside = [p for p in ctx.pieces if p.piece.segment_index is not None
                      and bed.start_segment <= p.piece.segment_index <= last]
            if inside:
                placed.append((bed, inside[0].start, inside[-1].end))
        frames = ctx.frames
        beds = place_beds(frames, ctx.rate, ctx.channels, placed, speech_spans(ctx.pieces))
        chunks, ctx.chunks = ctx.chunks, []  # handed over: freed as soon as they are copied into the mix
        ctx.audio = mix_beds(chunks, ctx.rate, ctx.channels, [b for _, b in beds])
        ctx.step_records[self.name] = [
            {"file": bed.path.name, "start": round(b.start / ctx.rate, 3), "end": round((b.start + b.length) / ctx.rate, 3),
             "loops": round(b.length / len(b.music), 2), "gain_db": bed.gain_db, "duck_db": bed.duck_db}
            for bed, b in beds]
        if ctx.compiled.episode.output.loudness is not None:
            ctx.layers += [bed_figures(b, frames) for _, b in beds]
