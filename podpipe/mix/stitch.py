"""Stitching: every piece of the rundown placed in the episode to the sample and joined, in linear time.

Every piece becomes a pydub AudioSegment at the episode rate (a clip, ``clips``), and its raw data is kept in
order, the buffers separate (``MixContext.chunks``): the exporter writes them out one after the other, and they
are joined into one buffer (once, ``b"".join``) only when a post-stitch step asks for the whole audio. pydub's
``sum()``/``+`` would copy the whole episode per piece, which is quadratic.

The episode rate is the highest rate among the speech renders (whatever rate each backend renders at), so
speech is only ever resampled upwards; sound files are decoded straight to that rate. An episode with no
speech is stitched at ``NO_SPEECH_RATE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.compile import CompiledEpisode, Piece, SilencePiece, SoundPiece, SpeechPiece
from podpipe.mix.context import MixContext, PlacedPiece
from podpipe.mix.turns import locate_turns

# The stitch rate of an episode with no speech (sounds and silences only): a neutral default, a common
# rate for speech, not any backend's. The output's own rate is set after stitching (``export.FormatStep``:
# the spec's, else the format's), so it shows only in a WAV or FLAC with no ``sample_rate``.
NO_SPEECH_RATE = 24000
CHANNELS = 1  # podcasts of speech are mono; the output's channel count is set after stitching


def crossfades(before: Piece, after: Piece) -> bool:
    """``output.crossfade`` joins a sound to the speech or sound next to it; silences keep their length."""
    if isinstance(before, SilencePiece) or isinstance(after, SilencePiece):
        return False
    return isinstance(before, SoundPiece) or isinstance(after, SoundPiece)


def stitch(compiled: CompiledEpisode, audio_for: Callable[[str], Audio],
           figures_for: Callable[[str, Audio], Any] | None = None) -> MixContext:
    """The episode's pieces placed and in order. ``audio_for(key)`` returns a speech piece's cached render;
    whatever it raises (e.g. ``LookupError`` for a damaged entry) propagates. ``figures_for(key, audio)``,
    when given, returns the render's loudness figures (kept in ``MixContext.figures``)."""
    from podpipe.mix import clips  # pydub: imported only when a mix runs

    rundown = compiled.rundown
    # each distinct render once; the episode rate is known only when all are loaded
    speech: dict[str, Audio] = {}
    figures: dict[str, Any] = {}
    located: dict[str, tuple[tuple[float, ...], str]] = {}
    for piece in rundown.pieces:
        if isinstance(piece, SpeechPiece) and piece.key not in speech:
            speech[piece.key] = audio_for(piece.key)
            if figures_for is not None:
                figures[piece.key] = figures_for(piece.key, speech[piece.key])
            if len(piece.turns) > 1:  # who speaks when inside a multi-speaker render (seconds: rate-free)
                located[piece.key] = locate_turns(speech[piece.key], [t.text for t in piece.turns])
    rate = max((a.rate for a in speech.values()), default=NO_SPEECH_RATE)
    pcm: dict[str, bytes] = {}
    for key in list(speech):  # converted one at a time so an original can be freed before the next is copied
        pcm[key] = clips.speech(speech.pop(key), rate, CHANNELS).raw_data

    frame = SAMPLE_WIDTH * CHANNELS
    chunks: list[bytes] = []
    touched: list[tuple[int, int]] = []
    placed: list[PlacedPiece] = []
    silences: dict[int, bytes] = {}
    sounds: dict[tuple, bytes] = {}
    position = 0
    xfade = max(0, round(compiled.episode.output.crossfade * rate))
    for piece in rundown.pieces:
        if isinstance(piece, SpeechPiece):
            data = pcm[piece.key]
        elif isinstance(piece, SilencePiece):
            # not pydub's silent(): it counts frames with int(), one short at some lengths, and every later
            # piece would move; the rundown's timings are round(seconds × rate)
            n = max(0, round(piece.seconds * rate))
            if n not in silences:  # gaps repeat: one buffer per length
                silences[n] = bytes(n * frame)
            data = silences[n]
        else:
            ident = (piece.path, piece.gain_db, piece.fade_in, piece.fade_out)
            if ident not in sounds:
                sounds[ident] = clips.sound(piece, rate, CHANNELS).raw_data
            data = sounds[ident]
        n_frames = len(data) // frame
        if xfade and placed and crossfades(placed[-1].piece, piece):
            overlap = min(xfade, n_frames, len(chunks[-1]) // frame)
            if overlap:  # the sound and its neighbour overlap: one fades out while the other fades in
                cut = overlap * frame
                mixed = clips.crossfade(chunks[-1][-cut:], data[:cut], rate, CHANNELS)
                chunks[-1] = chunks[-1][:-cut]
                data = mixed + data[cut:]
                position -= overlap
                touched.append((position, position + overlap))
        bounds, method = located.get(getattr(piece, "key", None), ((), "exact"))
        placed.append(PlacedPiece(piece, position, position + n_frames, rate, bounds, method))
        chunks.append(data)
        position += n_frames
    del pcm, sounds, silences  # only ``chunks`` references the audio from here on
    return MixContext(compiled, tuple(placed), rate, CHANNELS, chunks, figures=figures, touched=touched)
