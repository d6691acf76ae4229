"""The Gemini TTS wire format, as pure functions (no SDK): what a request's text parts say in each dialect
(and so how many tokens it will take), and how an answer's inline audio is read and judged plausible before
anything is cached.

Token estimates (``estimate_tokens``, for ``podpipe plan``) are estimates, not bills: the service reports
real counts in ``usageMetadata`` after each render.

- Input: text tokens ≈ characters sent / ``CHARS_PER_TOKEN``, counting everything the request sends:
  spoken text, styles, speaker labels and the 2.5/3.1 preambles (``prompt_chars``).
- Output: audio tokens ≈ ``AUDIO_TOKENS_PER_SECOND`` × estimated seconds of speech, at
  the language's speaking rate (``catalog.chars_per_second``: 14 characters a second for English, 5 for
  Chinese).

Prices are in the catalog (``catalog.prices``).
"""

from __future__ import annotations

import math
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.backends.gemini.catalog import (AUDIO_TOKENS_PER_SECOND, CHARS_PER_TOKEN, DIALECT_METADATA,
                                             chars_per_second, model_info)
from podpipe.compile import RenderRequest, RequestTurn

# Audio plausibility floor: at least this long, and at least characters / MAX_CHARS_PER_SECOND seconds
# (~4x faster than real speech, so only empty or all but empty audio fails, as a failed attempt; a take cut
# short that could still be speech is take review's to judge and re-roll, podpipe.review).
MIN_SECONDS = 0.25
MAX_CHARS_PER_SECOND = 60.0
SILENCE_PEAK = 16  # |sample| at or below this everywhere (about -66 dBFS) counts as digital silence


# -- request building --------------------------------------------------------------------------------------

def _clean_style(style: str) -> str:
    return style.strip().rstrip(".;:, ").strip()


def _styles(turns: tuple[RequestTurn, ...] | list[RequestTurn]) -> str | None:
    """Distinct styles of these turns, in order, joined with "; " (one speaker's turns share one style)."""
    found = [_clean_style(t.style) for t in turns if t.style and _clean_style(t.style)]
    return "; ".join(dict.fromkeys(found)) or None


def transcript_text(request: RenderRequest) -> str:
    """The one text part of the ``transcript`` dialect (2.5 / 3.1 models)."""
    if not request.multi_speaker:
        text = "\n".join(t.text for t in request.turns)
        style = _styles(request.turns)
        return f"Say in this style ({style}): {text}" if style else text
    labels = request.speakers
    names = ", ".join(labels[:-1]) + f" and {labels[-1]}"
    # Google's documented form: one plain instruction sentence ("Make Speaker1 sound tired and bored, and
    # Speaker2 sound excited and happy:"), never a "Name: ..." line, which the model would read as a turn.
    moods = [f"{label} sound {style}" for label in labels
             if (style := _styles([t for t in request.turns if t.speaker == label]))]
    head = [f"TTS the following conversation between {names}" + (", and make " + ", and ".join(moods)
                                                                      if moods else "") + ":"]
    lines = [f"{t.speaker}: {' '.join(t.text.split())}" for t in request.turns]
    return "\n".join([*head, *lines])


def metadata_parts(request: RenderRequest) -> list[dict[str, Any]]:
    """The parts of the ``metadata`` dialect (3.8+) as plain dicts: ``{"text", "speech_metadata"?}``."""
    multi = request.multi_speaker
    parts: list[dict[str, Any]] = []
    for turn in request.turns:
        meta = {}
        if multi:
            meta["speaker"] = turn.speaker
        style = turn.style.strip() if turn.style else None
        if style:
            meta["style"] = style
        parts.append({"text": turn.text, **({"speech_metadata": meta} if meta else {})})
    return parts


def speaker_voices(request: RenderRequest) -> dict[str, str]:
    """Speaker label → voice, in order of first appearance."""
    voices: dict[str, str] = {}
    for turn in request.turns:
        voices.setdefault(turn.speaker, turn.voice)
    return voices


def prompt_chars(request: RenderRequest) -> int:
    """Characters of text the request sends (spoken text, styles, labels and preambles): for estimates."""
    if model_info(request.model).dialect == DIALECT_METADATA:
        return sum(len(p["text"]) + sum(len(v) for v in p.get("speech_metadata", {}).values())
                   for p in metadata_parts(request))
    return len(transcript_text(request))


def estimate_tokens(request: RenderRequest) -> tuple[int, int]:
    """(input text tokens, output audio tokens) one render of ``request`` will use, estimated."""
    prompt = math.ceil(prompt_chars(request) / CHARS_PER_TOKEN)
    output = math.ceil(request.characters / chars_per_second(request.language) * AUDIO_TOKENS_PER_SECOND)
    return prompt, output


# -- response parsing -------------------------------------------------------------------------------------

def mime_params(mime: str) -> tuple[str, dict[str, str]]:
    kind, *params = [p.strip() for p in mime.split(";")]
    values = {}
    for p in params:
        name, _, value = p.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    return kind.lower(), values


def decode_audio(mime: str, data: bytes) -> Audio:
    """Audio from one inline blob, by mime type. ValueError for anything that is not PCM or WAV audio."""
    kind, params = mime_params(mime)
    if kind in ("audio/l16", "audio/pcm"):
        try:
            rate = int(params.get("rate", 24000))
            channels = int(params.get("channels", 1))
        except ValueError:
            raise ValueError(f"bad rate/channels in mime type {mime!r}") from None
        if rate <= 0 or channels <= 0:
            raise ValueError(f"bad rate/channels in mime type {mime!r}")
        frame = SAMPLE_WIDTH * channels
        return Audio(data[: len(data) // frame * frame], rate, channels)
    if kind in ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"):
        from podpipe.audio import read_wav  # ValueError when truncated or garbled; tolerates streaming headers

        return read_wav(data)
    raise ValueError(f"unsupported mime type {mime!r}")


def check_audio(audio: Audio, characters: int) -> str | None:
    """Why this audio cannot be right for ``characters`` of text, or None when it is plausible."""
    need = max(MIN_SECONDS, characters / MAX_CHARS_PER_SECOND)
    if audio.seconds < need:
        return (f"audio implausibly short: {audio.seconds:.2f}s ({len(audio.pcm)} bytes of PCM) for "
                f"{characters} characters (expected at least {need:.2f}s)")
    # every 97th sample is plenty to tell speech from zeros, and keeps minutes of audio cheap to check
    if max(map(abs, memoryview(audio.pcm).cast("h")[::97]), default=0) <= SILENCE_PEAK:
        return f"audio is digital silence ({audio.seconds:.2f}s)"
    return None
