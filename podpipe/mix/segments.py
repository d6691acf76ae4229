"""Pieces as pydub AudioSegments on their way from the cache into the stitch: a render (the cache's
``Audio``) or a sound file becomes an AudioSegment at the episode's rate and channel count, with its gain and
fades, by pydub's own methods.

Own code remains only where pydub falls short, each place saying why: a resampled render keeps exactly
round(frames × new / old) frames, sound files are resampled with a filter, and a crossfade joins one pair of
pieces (pydub's ``append(crossfade=)`` chained over an episode copies it once per join). Silences and the
join itself are the stitch's (``stitch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podpipe.audio import audio_segment, ffmpeg_convert
from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.compile import SoundPiece
from podpipe.mix import sounds


def from_audio(audio: Audio) -> Any:
    """The cache's ``Audio`` as an AudioSegment (sharing its bytes: no copy)."""
    return audio_segment()(data=audio.pcm, sample_width=SAMPLE_WIDTH, frame_rate=audio.rate,
                           channels=audio.channels)


def to_audio(segment: Any) -> Audio:
    return Audio(segment.raw_data, segment.frame_rate, segment.channels)


def speech(audio: Audio, rate: int, channels: int) -> Any:
    """A render at the episode's ``rate`` (never lower than its own) and ``channels``."""
    segment = from_audio(audio).set_channels(channels)
    if segment.frame_rate == rate:
        return segment
    want = (audio.frames * rate + audio.rate // 2) // audio.rate
    resampled = segment.set_frame_rate(rate)
    # audioop.ratecv (pydub's set_frame_rate) may end a frame early or late; the manifest promises
    # round(frames × new / old) frames, and every later piece starts where this one ends
    frame = SAMPLE_WIDTH * channels
    pcm = resampled.raw_data[:want * frame]
    if len(pcm) < want * frame:
        pcm += (pcm[-frame:] if pcm else bytes(frame)) * (want - len(pcm) // frame)  # hold the last value
    return audio_segment()(data=pcm, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=channels)


def load(path: str | Path, rate: int, channels: int) -> Any:
    """A sound file decoded at ``rate`` and ``channels``."""
    segment = sounds.decode(path).set_channels(channels)
    if segment.frame_rate == rate:
        return segment
    # a filtered resampler: pydub's set_frame_rate would alias music brought down from 44.1 or 48 kHz
    return from_audio(ffmpeg_convert(to_audio(segment), rate, channels))


def sound(piece: SoundPiece, rate: int, channels: int) -> Any:
    """A sound piece at the episode's ``rate`` and ``channels``, with its gain and fades (a fade longer than
    the sound spans all of it)."""
    segment = load(piece.path, rate, channels)
    if piece.gain_db:
        segment = segment.apply_gain(piece.gain_db)
    fade_in, fade_out = (min(len(segment), round(s * 1000)) for s in (piece.fade_in, piece.fade_out))
    if fade_in > 0:
        segment = segment.fade_in(fade_in)
    if fade_out > 0:
        segment = segment.fade_out(fade_out)
    return segment


def crossfade(tail: bytes, head: bytes, rate: int, channels: int) -> bytes:
    """``tail`` fading out while ``head`` (as long) fades in, summed: what pydub's ``append(crossfade=)``
    does at one join, without copying everything before it."""
    make = audio_segment()
    out = make(data=tail, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=channels)
    into = make(data=head, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=channels)
    return out.fade(to_gain=-120, start=0, end=float("inf")).overlay(
        into.fade(from_gain=-120, start=0, end=float("inf"))).raw_data
