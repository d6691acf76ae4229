"""The offline draft voice: libespeak-ng from the ``espeakng-loader`` wheel, driven through ctypes.

No system packages and no network: the wheel bundles the library and its data. Each of the 30 prebuilt
Gemini voice names maps to its own espeak (variant, pitch, rate factor) so speakers stay distinguishable in drafts; the
feminine/masculine register follows ``gemini.catalog.FEMININE`` and the pitch/rate lean on each voice's
documented character. Any other voice (a library name, a custom id) gets a (variant, pitch, rate) drawn
from a hash of its name. The mapping is fixed, so a voice always sounds the same; the samples are not
bit-identical from one render to the next (espeak's pitch flutter and breath noise carry state across
utterances, and the library offers no reset), which the content-addressed cache makes irrelevant.

Speaking rate: 165 words per minute × the voice's rate factor × a style factor. A turn whose style contains
one of the words slow, slowly, calm or relaxed is read ×0.88; fast, quick, quickly, brisk, excited or
energetic ×1.12 (both kinds present: both factors apply). Style is part of every cache key, so the rate
never changes under a cached render.

Language: ``en-US`` → espeak's ``en-us``, ``en-GB`` → ``en-gb`` (whose voice file is ``en``), ``de-DE`` → ``de``:
the full tag first, then its primary subtag, resolved against the languages espeak's voices declare; anything
espeak lacks falls back to ``en-us``. A multi-speaker request is rendered turn by turn, joined with 0.2 s of silence.

libespeak-ng keeps its state in globals and is not thread-safe: it is initialised once per process, on the
first render (importing this module loads nothing), and every synthesis holds one module-level lock.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.backends.base import Backend, Rendered, Usage, VoiceInfo, VoiceListing
from podpipe.backends.gemini.catalog import GEMINI_VOICES
from podpipe.compile.types import RenderRequest, RequestTurn, Target
from podpipe.errors import BackendError

MODEL = "espeak-ng"
BASE_WPM = 165
CHARS_PER_WORD = 5.5  # English text, with its space: the espeak prior for take review's length check
SLOW_WORDS = frozenset({"slow", "slowly", "calm", "relaxed"})
FAST_WORDS = frozenset({"fast", "quick", "quickly", "brisk", "excited", "energetic"})
SLOW_FACTOR = 0.88
FAST_FACTOR = 1.12
TURN_GAP = 0.2  # seconds of silence between the turns of a multi-speaker request
FALLBACK_LANGUAGE = "en-us"
MIN_WPM, MAX_WPM = 80, 450  # espeak's usable range

# espeak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data directory makes the library call exit(1)
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_PITCH = 3
_EE_OK = 0


@dataclass(frozen=True)
class EspeakVoice:
    variant: str  # espeak-ng-data/voices/!v/<variant>
    pitch: int  # espeakPITCH, 0-100 (50 is the variant's own base pitch)
    rate: float  # factor on BASE_WPM


# Feminine names use the five female variants, masculine names the eight male ones; within a variant the
# pitch differs by at least 10, so no two voices share (variant, pitch).
VOICE_MAP: dict[str, EspeakVoice] = {
    "Zephyr": EspeakVoice("f3", 60, 1.00),  # bright
    "Kore": EspeakVoice("f1", 45, 0.97),  # firm
    "Leda": EspeakVoice("f5", 70, 1.05),  # youthful
    "Aoede": EspeakVoice("f2", 58, 1.04),  # breezy
    "Callirrhoe": EspeakVoice("f4", 50, 0.96),  # easy-going
    "Autonoe": EspeakVoice("f1", 65, 1.02),  # bright
    "Despina": EspeakVoice("f2", 45, 0.95),  # smooth
    "Erinome": EspeakVoice("f4", 62, 1.00),  # clear
    "Laomedeia": EspeakVoice("f3", 72, 1.08),  # upbeat
    "Achernar": EspeakVoice("f5", 42, 0.92),  # soft
    "Gacrux": EspeakVoice("f1", 33, 0.94),  # mature
    "Pulcherrima": EspeakVoice("f4", 38, 1.06),  # forward
    "Vindemiatrix": EspeakVoice("f2", 70, 0.93),  # gentle
    "Sulafat": EspeakVoice("f3", 44, 0.98),  # warm
    "Puck": EspeakVoice("m3", 62, 1.07),  # upbeat
    "Charon": EspeakVoice("m1", 45, 0.98),  # informative
    "Fenrir": EspeakVoice("m7", 65, 1.10),  # excitable
    "Orus": EspeakVoice("m2", 40, 0.97),  # firm
    "Enceladus": EspeakVoice("m8", 55, 0.94),  # breathy
    "Iapetus": EspeakVoice("m4", 55, 1.00),  # clear
    "Umbriel": EspeakVoice("m6", 48, 0.95),  # easy-going
    "Algieba": EspeakVoice("m5", 45, 0.96),  # smooth
    "Algenib": EspeakVoice("m7", 30, 0.93),  # gravelly
    "Rasalgethi": EspeakVoice("m4", 38, 1.02),  # informative
    "Alnilam": EspeakVoice("m1", 60, 1.00),  # firm
    "Schedar": EspeakVoice("m2", 55, 1.00),  # even
    "Achird": EspeakVoice("m6", 62, 1.03),  # friendly
    "Zubenelgenubi": EspeakVoice("m3", 42, 0.99),  # casual
    "Sadachbia": EspeakVoice("m5", 66, 1.08),  # lively
    "Sadaltager": EspeakVoice("m8", 40, 0.97),  # knowledgeable
}

_WORD = re.compile(r"[a-z]+")
_VARIANTS = tuple(f"f{n}" for n in range(1, 6)) + tuple(f"m{n}" for n in range(1, 9))


def espeak_voice(voice: str) -> EspeakVoice:
    """The stand-in for ``voice``: the table for the 30 prebuilt names; for any other name (library voices,
    custom ids) a variant, pitch and rate drawn from a hash of the name, so it never changes between runs."""
    if voice in VOICE_MAP:
        return VOICE_MAP[voice]
    digest = hashlib.sha256(voice.encode("utf-8")).digest()
    return EspeakVoice(_VARIANTS[digest[0] % len(_VARIANTS)], 30 + digest[1] % 45,
                       round(0.92 + (digest[2] % 17) / 100, 2))


def words_per_minute(voice: str, style: str | None) -> int:
    """The espeak rate for ``voice`` reading a turn with ``style`` (see the module docstring)."""
    factor = espeak_voice(voice).rate
    words = set(_WORD.findall((style or "").lower()))
    if words & SLOW_WORDS:
        factor *= SLOW_FACTOR
    if words & FAST_WORDS:
        factor *= FAST_FACTOR
    return max(MIN_WPM, min(MAX_WPM, round(BASE_WPM * factor)))


_lock = threading.Lock()  # guards _engine and every call into the library
_engine: _Engine | None = None

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _VoiceStruct(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


class _Engine:
    """The initialised library. Only one exists per process; callers hold ``_lock``."""

    def __init__(self, library_path: str, data_path: str):
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as exc:
            raise BackendError(f"cannot load libespeak-ng from {library_path}: {exc}; reinstall it with "
                               "`pip install --force-reinstall espeakng-loader`", retryable=False) from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceStruct))

        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, os.fsencode(data_path), _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise BackendError(f"libespeak-ng failed to initialise with data at {data_path} (code {rate}); "
                               "reinstall espeakng-loader", retryable=False)
        self.lib = lib
        self.rate = rate
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._on_audio)  # kept referenced: the library holds a raw pointer
        lib.espeak_SetSynthCallback(self._callback)
        self.languages = self._languages()

    def _on_audio(self, wav, numsamples, events) -> int:
        if wav and numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * SAMPLE_WIDTH))
        return 0  # 0: continue synthesis

    def _languages(self) -> dict[str, str]:
        """Language tag (lower case) → voice file name, preferring the voice that ranks the tag highest."""
        best: dict[str, tuple[int, str]] = {}
        voices = self.lib.espeak_ListVoices(None)
        i = 0
        while voices and voices[i]:
            v = voices[i].contents
            i += 1
            ident = (v.identifier or b"").decode("utf-8", "replace")
            if not ident or ident.startswith(("mb/", "!v/")):
                continue
            file_name = ident.rsplit("/", 1)[-1]
            # ``languages`` is a run of (priority byte, NUL-terminated tag) pairs ended by a zero byte
            pos = v.languages
            while pos:
                priority = ctypes.string_at(pos, 1)[0]
                if priority == 0:
                    break
                tag = ctypes.string_at(pos + 1)
                pos += 2 + len(tag)
                key = tag.decode("ascii", "replace").lower()
                if key not in best or priority < best[key][0]:
                    best[key] = (priority, file_name)
        return {tag: name for tag, (_, name) in best.items()}

    def espeak_language(self, language: str | None) -> str:
        if language:
            tag = language.lower().replace("_", "-")
            for candidate in (tag, tag.split("-", 1)[0]):
                if candidate in self.languages:
                    return self.languages[candidate]
        return self.languages.get(FALLBACK_LANGUAGE, FALLBACK_LANGUAGE)

    def synth(self, text: str, voice: EspeakVoice, language: str | None, wpm: int) -> bytes:
        lib = self.lib
        name = self.espeak_language(language)
        if lib.espeak_SetVoiceByName(f"{name}+{voice.variant}".encode()) != _EE_OK:
            if lib.espeak_SetVoiceByName(f"{FALLBACK_LANGUAGE}+{voice.variant}".encode()) != _EE_OK:
                raise BackendError(f"espeak has no voice {FALLBACK_LANGUAGE}+{voice.variant}: the "
                                   "espeakng-loader data is incomplete; reinstall it", retryable=False)
        lib.espeak_SetParameter(_RATE, wpm, 0)
        lib.espeak_SetParameter(_PITCH, voice.pitch, 0)
        data = text.encode("utf-8")
        self._chunks = []
        try:
            code = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            pcm = b"".join(self._chunks)
        finally:
            self._chunks = []
        if code != _EE_OK:
            raise BackendError(f"espeak_Synth failed with code {code}", retryable=False)
        return pcm


def _library_paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError:
        raise BackendError("the offline voice needs the espeakng-loader package: "
                           "`pip install espeakng-loader`", retryable=False) from None
    try:
        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except Exception as exc:  # the loader raises RuntimeError when its data directory is missing
        raise BackendError(f"espeakng-loader is broken ({exc}); reinstall it with "
                           "`pip install --force-reinstall espeakng-loader`", retryable=False) from None


def _get_engine() -> _Engine:
    """The process-wide engine, created on first use. Caller holds ``_lock``."""
    global _engine
    if _engine is None:
        _engine = _Engine(*_library_paths())
    return _engine


class EspeakBackend(Backend):
    """Offline draft voice. Fast (~0.06 s per 200 words) but serialized by the library lock."""

    name = "espeak"
    default_jobs = 2
    default_rpm = None
    drafts = True  # stand-ins for any voice of any model: a spec's voices are judged by its model's owner
    repeatable = True  # the same text always gives the same samples: a re-roll would repeat the take
    default_notice = ("no GEMINI_API_KEY: rendering draft audio with the offline espeak voice "
                      "(set GEMINI_API_KEY, or pass --backend)")

    def render(self, request: RenderRequest) -> Rendered:
        if not request.turns:
            raise BackendError("request has no turns to speak", retryable=False)
        pieces: list[bytes] = []
        rate = 0
        for i, turn in enumerate(request.turns):
            pcm, rate = self._speak(turn, request.language)
            if i:
                pieces.append(bytes(int(round(TURN_GAP * rate)) * SAMPLE_WIDTH))
            pieces.append(pcm)
        return Rendered(Audio(b"".join(pieces), rate), Usage())

    @staticmethod
    def _speak(turn: RequestTurn, language: str | None) -> tuple[bytes, int]:
        voice = espeak_voice(turn.voice)
        wpm = words_per_minute(turn.voice, turn.style)
        with _lock:
            engine = _get_engine()
            pcm = engine.synth(turn.text, voice, language, wpm)
            rate = engine.rate
        if not pcm or pcm.count(0) == len(pcm):
            raise BackendError(f"espeak produced no audio for {turn.speaker}'s line {turn.text[:40]!r}",
                               retryable=False)
        return pcm, rate

    @classmethod
    def configured(cls, environ=None) -> bool:
        return True  # offline: always ready, so it is the default when nothing else is configured

    @classmethod
    def voices(cls) -> list[VoiceInfo]:
        return [VoiceInfo(name, f"{GEMINI_VOICES[name]}; offline: en-us+{v.variant}, pitch {v.pitch}"
                          + (f", rate ×{v.rate:.2f}" if v.rate != 1.0 else ""))
                for name, v in VOICE_MAP.items()]

    @classmethod
    def listing(cls, cache_root: Path, *, refresh: bool = False) -> VoiceListing:
        listing = super().listing(cache_root, refresh=refresh)
        return VoiceListing(listing.lines, "any other voice (library names, custom ids) gets a fixed stand-in "
                                           "drawn from its name")

    @classmethod
    def speaking_rate(cls, model: str, language: str | None) -> float:
        # BASE_WPM words of ~CHARS_PER_WORD characters (spaces included) a minute
        return BASE_WPM * CHARS_PER_WORD / 60

    @classmethod
    def model_for(cls, spec_model: str | None) -> str:
        return MODEL  # the spec's model does not change espeak audio

    @classmethod
    def target(cls, spec_model: str | None) -> Target:
        # espeak has no sampling, and reads no vocal tags (it would say "laughs")
        return Target(cls.name, MODEL, sampling=False, tags=None)
