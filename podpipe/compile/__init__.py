"""The ``compile`` stage: an ``Episode`` in, render requests (each with its cache key) and a rundown out.

The rundown is the episode's running order: its pieces in playback order and the file to write. Pure: no
I/O, no clock. ``Target`` says where the requests go (backend, model, what that voice takes).
"""

from podpipe.compile.compiler import MAX_REQUEST_CHARS, compile_episode, sentences, split_request, split_text
from podpipe.compile.keys import cache_key, key_material, request_material
from podpipe.compile.types import (CompiledEpisode, Piece, RenderRequest, RequestTurn, Rundown, SilencePiece,
                                   SoundPiece, SpeechPiece, Target)

__all__ = ["MAX_REQUEST_CHARS", "CompiledEpisode", "Piece", "RenderRequest", "RequestTurn", "Rundown",
           "SilencePiece", "SoundPiece", "SpeechPiece", "Target", "cache_key", "compile_episode", "key_material",
           "request_material", "sentences", "split_request", "split_text"]
