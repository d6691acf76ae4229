"""Compile a validated episode into render requests and a rundown. Pure: no I/O, no clock, no randomness.

Splitting rules (documented in the README):
- A single line is one request, unless it is longer than the limit (``MAX_REQUEST_CHARS``, or what the
  backend asks for the model and language); then it is split at sentence ends of any script (CJK 。！？,
  Hindi ।, Arabic/Urdu ؟ ۔, ...) into several requests; only one sentence longer than the limit is cut
  inside, at a clause mark (，、；,;:—), else at a space.
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
from dataclasses import replace

from podpipe.compile.keys import cache_key, key_material
from podpipe.compile.types import (CompiledEpisode, Piece, RenderRequest, RequestTurn, Rundown, SilencePiece,
                                   SoundPiece, SpeechPiece, Target)
from podpipe.spec import Episode, Segment, Turn
from podpipe.spec.scripts import CLAUSE_MARKS, SENTENCE_END
from podpipe.spec.text import Lexicon, spoken, written

MAX_SPEAKERS = 2  # distinct voices per request: what multi-speaker TTS services take
SPEECH_CHARS_PER_SECOND = 14  # rule of thumb: English speech runs at ~14 characters a second
# ~4 minutes of speech, under the length after which TTS services cut audio off or drift; a backend may ask
# for less per language and model (``Backend.request_chars``: a script that says more per character).
MAX_REQUEST_SECONDS = 240
MAX_REQUEST_CHARS = MAX_REQUEST_SECONDS * SPEECH_CHARS_PER_SECOND  # 3,360: English and other Latin scripts

_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Whitespace is layout in YAML, not speech: re-wrapping a paragraph must not cost a render."""
    return _SPACE.sub(" ", text).strip()


def sentences(text: str) -> list[str]:
    """``text`` cut after each sentence end of any script (``spec.scripts.SENTENCE_END``), each piece with
    the separator that follows it, so joining the pieces gives the text back (a Latin end's closing quotes
    and space become one space, as the splitter has always done: English keys stay as they were)."""
    pieces, pos = [], 0
    for m in SENTENCE_END.finditer(text):
        if m.group("latin") is not None:
            piece, pos_next = text[pos:m.start()] + " ", m.end()
        else:
            piece, pos_next = text[pos:m.end()], m.end()
        if piece.strip():
            pieces.append(piece)
            pos = pos_next
    if text[pos:].strip():
        pieces.append(text[pos:])
    return pieces


def _cut(sentence: str, limit: int) -> list[str]:
    """One sentence longer than ``limit`` in pieces of at most ``limit``: after the last clause mark that
    fits, else at the last space, else hard (a script without either)."""
    out = []
    while len(sentence.rstrip()) > limit:
        mark = max(sentence.rfind(c, 0, limit) for c in CLAUSE_MARKS)
        space = sentence.rfind(" ", 0, limit + 1)
        if mark > 0:
            cut = mark + 1
            while cut < len(sentence) and sentence[cut] == " ":
                cut += 1
        elif space > 0:
            cut = space + 1
        else:
            cut = limit
        out.append(sentence[:cut])
        sentence = sentence[cut:].lstrip()
    if sentence.strip():
        out.append(sentence)
    return out


def split_text(text: str, limit: int = MAX_REQUEST_CHARS) -> list[str]:
    """Split at sentence ends (any script; then at clause marks, spaces, or hard, for one sentence longer
    than ``limit``) into chunks of at most ``limit`` characters, as few as the greedy fill gives."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    for piece in (p for sentence in sentences(text) for p in _cut(sentence, limit)):
        if chunks and len((chunks[-1] + piece).rstrip()) <= limit:
            chunks[-1] += piece
        else:
            chunks.append(piece)
    return [c.strip() for c in chunks if c.strip()]


def halves(text: str) -> tuple[str, str] | None:
    """``text`` in two parts of about equal length, cut at the sentence end nearest the middle (one
    sentence: at a clause mark, else a space, else hard), for a take that hit the model's output cap;
    None when it is too short to cut."""
    pieces = sentences(text)
    if len(pieces) < 2:
        pieces = _cut(text, max(1, len(text) // 2))
    if len(pieces) < 2:
        return None
    run, ends = 0, []
    for i, piece in enumerate(pieces[:-1], 1):
        run += len(piece)
        ends.append((abs(run - len(text) / 2), i))
    best = min(ends)[1]
    first, second = "".join(pieces[:best]).strip(), "".join(pieces[best:]).strip()
    return (first, second) if first and second else None


def split_request(request: RenderRequest) -> tuple[RenderRequest, RenderRequest] | None:
    """``request`` as two requests whose audio, joined, is the whole's: at the turn boundary nearest the
    middle, or for one turn at the sentence end nearest the middle of its text (``halves``). For a take that
    stopped at the model's output cap. Each part has the key its own material gives (what any request of that
    text would have); None when the request cannot be cut."""
    turns = request.turns
    if len(turns) > 1:
        total, run, best = request.characters, 0, (float("inf"), 1)
        for i, turn in enumerate(turns[:-1], 1):
            run += len(turn.text)
            best = min(best, (abs(run - total / 2), i))
        groups = (turns[:best[1]], turns[best[1]:])
    else:
        cut = halves(turns[0].text)
        if cut is None:
            return None
        groups = tuple((replace(turns[0], text=text, written=None),) for text in cut)
    return tuple(replace(request, turns=group, key=cache_key(key_material(
        request.backend, request.model, group, request.temperature, request.language, request.take)))
        for group in groups)  # type: ignore[return-value]


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
