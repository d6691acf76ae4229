"""Compile a validated episode into render requests and a rundown. Pure: no I/O, no clock, no randomness.

Splitting rules (documented in the README):
- A single line is one request, unless it is longer than ``MAX_REQUEST_CHARS``; then it is split at
  sentence boundaries (words, for a run-on sentence) into several requests.
- A dialogue block is split greedily, in order, into requests of at most ``MAX_SPEAKERS`` distinct
  speakers and ``MAX_REQUEST_CHARS`` characters: a turn that would bring in a third speaker, or overflow the
  size cap, starts the next request.
- ``gap`` seconds of silence go between consecutive spoken pieces; pauses and sounds are placed as written.

Text: the lexicon is applied and vocal tags are put in the form the target reads (``speech_text``); each
turn also keeps its written form for transcripts. Temperature is sent, and keyed, only where the target's
model takes it (``Target.sampling``).

Styles combine from general to specific — episode ``style``, then the speaker's, then the segment's —
joined with "; ", so the most specific note is read last and wins where they disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from podpipe.compile.keys import cache_key, key_material
from podpipe.compile.types import (CompiledEpisode, Piece, RenderRequest, RequestTurn, Rundown, SilencePiece,
                                   SoundPiece, SpeechPiece, Target)
from podpipe.spec import Episode, Segment, Turn
from podpipe.spec.text import Lexicon, spoken, written

MAX_SPEAKERS = 2  # distinct voices per request: what multi-speaker TTS services take
SPEECH_CHARS_PER_SECOND = 14  # rule of thumb: speech runs at ~14 characters a second
# 3,360 characters is ~4 minutes of speech, under the length after which TTS services cut audio off
# (a backend's own limit, if lower, is its to enforce).
MAX_REQUEST_CHARS = 240 * SPEECH_CHARS_PER_SECOND

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Whitespace is layout in YAML, not speech: re-wrapping a paragraph must not cost a render."""
    return _SPACE.sub(" ", text).strip()


def split_text(text: str, limit: int = MAX_REQUEST_CHARS) -> list[str]:
    """Split at sentence ends (then at spaces, then hard) into chunks of at most ``limit`` characters."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            chunks[-1] += " " + piece
        else:
            chunks.append(piece)
    return chunks


def _combine_styles(*styles: str | None) -> str | None:
    parts = [normalize_text(s) for s in styles if s and s.strip()]
    return "; ".join(parts) or None


def _request_turns(episode: Episode, segment: Segment, turn: Turn, target: Target, lexicon: Lexicon,
                   limit: int) -> list[RequestTurn]:
    speaker = episode.speaker(turn.speaker)
    style = _combine_styles(episode.style, speaker.style, segment.style)
    turns = []
    for chunk in split_text(normalize_text(turn.text), limit):
        text, shown = spoken(chunk, target.tags, lexicon), written(chunk)
        turns.append(RequestTurn(speaker=speaker.name, voice=speaker.voice, text=text, style=style,
                                 written=None if shown == text else shown))
    return turns


def _group_turns(turns: list[RequestTurn], limit: int) -> Iterator[tuple[RequestTurn, ...]]:
    group: list[RequestTurn] = []
    speakers: set[str] = set()
    size = 0
    for turn in turns:
        new_speaker = turn.speaker not in speakers and len(speakers) >= MAX_SPEAKERS
        if group and (new_speaker or size + len(turn.text) > limit):
            yield tuple(group)
            group, speakers, size = [], set(), 0
        group.append(turn)
        speakers.add(turn.speaker)
        size += len(turn.text)
    if group:
        yield tuple(group)


def compile_episode(episode: Episode, target: Target, *, limit: int = MAX_REQUEST_CHARS) -> CompiledEpisode:
    """Turn ``episode`` into requests for ``target`` and the rundown that mixes their audio."""
    backend, model = target.backend, target.model
    lexicon = Lexicon(episode.lexicon)
    requests: dict[str, RenderRequest] = {}
    pieces: list[Piece] = []
    gap = episode.output.gap
    for segment in episode.segments:
        if segment.kind == "pause":
            pieces.append(SilencePiece(seconds=float(segment.pause or 0.0), reason="pause",
                                       segment_id=segment.id, segment_index=segment.index,
                                       chapter=segment.chapter))
            continue
        if segment.kind == "sound":
            sound = segment.sound
            if sound is None:
                raise AssertionError(f"segment {segment.id}: a sound segment without a sound (spec stage bug)")
            pieces.append(SoundPiece(path=sound.path, segment_id=segment.id, segment_index=segment.index,
                                     gain_db=sound.gain_db, fade_in=sound.fade_in, fade_out=sound.fade_out,
                                     chapter=segment.chapter))
            continue
        temperature = segment.temperature if segment.temperature is not None else episode.temperature
        if not target.sampling:
            temperature = None  # the model rejects it: not sent, and cannot change the audio
        turns = [rt for turn in segment.turns
                 for rt in _request_turns(episode, segment, turn, target, lexicon, limit)]
        for n, group in enumerate(_group_turns(turns, limit)):
            key = cache_key(key_material(backend, model, group, temperature, episode.language, segment.take))
            requests.setdefault(key, RenderRequest(
                key=key, backend=backend, model=model, turns=group,
                temperature=None if temperature is None else float(temperature),
                language=episode.language, take=segment.take))
            if gap > 0 and pieces and isinstance(pieces[-1], SpeechPiece):
                pieces.append(SilencePiece(seconds=gap, reason="gap"))
            pieces.append(SpeechPiece(key=key, segment_id=segment.id, segment_index=segment.index,
                                      speakers=tuple(dict.fromkeys(t.speaker for t in group)), turns=group,
                                      chapter=segment.chapter if n == 0 else None, accept=segment.accept))
    rundown = Rundown(pieces=tuple(pieces), output=episode.output.path, format=episode.output.format)
    return CompiledEpisode(episode=episode, requests=tuple(requests.values()), rundown=rundown)
