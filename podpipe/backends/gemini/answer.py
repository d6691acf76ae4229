"""What one Gemini answer means: audio that passed every check, or a classified ``BackendError`` (a final
refusal, a take cut off at the output cap, or something worth another attempt), and what it was billed.
The answer is the SDK's ``GenerateContentResponse``; nothing here imports the SDK."""

from __future__ import annotations

from typing import Any

from podpipe.audio_types import Audio
from podpipe.backends.base import Usage
from podpipe.backends.gemini.catalog import LOW_TEMPERATURE, model_info
from podpipe.backends.gemini.failures import CUT_OFF, REFUSALS, Scrub, refusal
from podpipe.backends.gemini.wire import check_audio, decode_audio, mime_params
from podpipe.compile.types import RenderRequest
from podpipe.errors import BackendError


def read_answer(response: Any, request: RenderRequest, scrub: Scrub) -> Audio:
    """The audio of one answer, checked (decodable, finish reason STOP, plausible length, not silence), or
    a BackendError that says what the answer means."""
    model = request.model
    blocked = response.prompt_feedback.block_reason if response.prompt_feedback else None
    if blocked:
        raise refusal(str(getattr(blocked, "value", blocked)), model)
    candidates = response.candidates or []
    if not candidates:
        raise BackendError(f"{model} answered with no candidates (no audio)", retryable=True)
    candidate = candidates[0]
    finish = candidate.finish_reason
    finish = getattr(finish, "value", finish)
    parts = (candidate.content.parts if candidate.content else None) or []
    blobs = [p.inline_data for p in parts if p.inline_data is not None]
    texts = [p.text for p in parts if p.text]
    if finish in REFUSALS:
        raise refusal(finish, model)
    if finish in CUT_OFF:
        raise BackendError(f"{model} stopped at its output cap ({finish}, {'partial' if blobs else 'no'} "
                           "audio): the take is cut off and never used", retryable=False, cut_off=True)
    if finish not in (None, "STOP"):
        if finish == "OTHER" and model_info(model).fails_at(request.temperature):
            # Deterministic on these models: retrying would only spend quota.
            raise BackendError(f"{model} stopped with finishReason OTHER at temperature {request.temperature}"
                               f"; this model fails at temperature <= {LOW_TEMPERATURE}: raise it, or use a 3.8 model",
                               retryable=False)
        raise BackendError(f"{model} stopped with finishReason {finish} "
                           f"({'with' if blobs else 'no'} audio)", retryable=True)
    if not blobs:
        if texts:
            raise BackendError(f"{model} returned text instead of audio: {scrub(texts[0][:80])!r}",
                               retryable=True)
        raise BackendError(f"{model} returned no audio (finishReason {finish})", retryable=True)
    pieces = []
    for blob in blobs:
        mime = blob.mime_type or ""
        kind, _ = mime_params(mime)
        if not kind.startswith("audio/"):
            raise BackendError(f"{model} returned {scrub(mime) or 'data without a mime type'!s} instead "
                               "of audio", retryable=True)
        try:
            pieces.append(decode_audio(mime, blob.data or b""))
        except ValueError as exc:
            unsupported = str(exc).startswith("unsupported mime type")
            raise BackendError(
                f"{model} returned audio podpipe cannot read ({scrub(mime)}): podpipe reads audio/L16 "
                "PCM and WAV; please report this" if unsupported else
                f"{model} returned undecodable audio ({scrub(mime)}): {scrub(str(exc))}",
                retryable=not unsupported) from None
    first = pieces[0]
    if any((a.rate, a.channels) != (first.rate, first.channels) for a in pieces):
        raise BackendError(f"{model} returned audio parts in different formats", retryable=True)
    audio = first if len(pieces) == 1 else Audio(b"".join(a.pcm for a in pieces), first.rate, first.channels)
    problem = check_audio(audio, request.characters)
    if problem:
        raise BackendError(f"{model}: {problem}", retryable=True)
    return audio


def usage(response: Any) -> Usage:
    """What the service billed for one answer (its ``usage_metadata``), whatever the answer was."""
    meta = response.usage_metadata
    prompt = (meta.prompt_token_count or 0) if meta else 0
    output = (meta.candidates_token_count or 0) if meta else 0
    total = (meta.total_token_count or prompt + output) if meta else 0
    return Usage(prompt, output, total)


def language_500(error: BackendError, request: RenderRequest) -> BackendError:
    """A 500 is final when it comes back identical for a request in a language other than English (services
    answer a language they do not speak that way every time); otherwise it is an ordinary transient 500."""
    language = request.language or ""
    if not language or language.lower().split("-")[0] == "en":
        error.final_if_repeated = False
        return error
    return BackendError(f"{error}; the same 500 twice for `language: {language}` means {request.model} does "
                        "not take that language: check `language:` (a BCP-47 code such as de-DE)",
                        retryable=True, status=error.status, final_if_repeated=True)

