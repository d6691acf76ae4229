"""The ``spec`` stage: YAML episode specs in, validated and resolved ``Episode`` objects out.

Every file is read, every ``extends`` chain merged, and every problem of every file collected before
anything fails, so one run shows the user everything to fix. Problems are located in the file the offending
value was written in (an episode or one of its show files) as ``file:line:col: field: message``.

Structure is checked by the packaged JSON Schema (the same file editors use), meaning by the checks below
that a schema cannot express (declared speakers, real voices, files on disk, unique ids, ...).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from podpipe.cache import VoiceLibrary
from podpipe.catalog import GEMINI_VOICES, KNOWN_MODELS, LOW_TEMPERATURE, is_custom, model_info
from podpipe.errors import Diagnostic, SpecError
from podpipe.spec import lexicon
from podpipe.spec.episode import (DEFAULT_FORMAT, DEFAULT_GAP, DEFAULT_LOUDNESS, DEFAULT_MODEL, DEFAULT_TRUE_PEAK,
                                  OPUS_RATES, Episode, MusicBed, Output, Segment, Sound, Speaker, Turn)
from podpipe.spec.schemacheck import Unsupported, compile_schema
from podpipe.spec.text import LexiconEntry
from podpipe.spec.yamldoc import SPEC_TOP, DocPath, Loc, YamlDoc, format_path, load_yaml

_SPEAKER_ID = re.compile(r"[a-z][a-z0-9_-]*")
_TTS_MODEL_NAME = re.compile(r"gemini-[0-9][\w.-]*-tts(-[\w.-]+)?")


@dataclass(frozen=True)
class LoadResult:
    episodes: tuple[Episode, ...]  # in the order the paths were given (duplicates dropped)
    warnings: tuple[Diagnostic, ...]


# ---------------------------------------------------------------------------------------------- schema

@cache
def _schema_text() -> str:
    return resources.files("podpipe").joinpath("schemas", "episode.schema.json").read_text("utf-8")


@cache
def _schema() -> dict:
    return json.loads(_schema_text())


def load_schema() -> dict:
    """The episode JSON Schema (draft 2020-12) as shipped in the package; a fresh copy on every call."""
    return json.loads(_schema_text())


def segment_fields() -> frozenset[str]:
    """Keys with a meaning in a segment; everything else in a segment is a speaker id (shorthand)."""
    return frozenset(_schema()["$defs"]["speakerId"]["not"]["enum"])


def formats() -> tuple[str, ...]:
    """Output formats the schema allows (``wav``, ``mp3``)."""
    return tuple(_schema()["$defs"]["output"]["properties"]["format"]["enum"])


@cache
def _fast_checks():
    """(episode, show) yes/no checkers, or None when the schema uses a keyword they do not implement."""
    schema = _schema()
    try:
        return compile_schema(schema), compile_schema(_show_schema(schema))
    except Unsupported:
        return None


def _show_schema(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "required"}  # a show file needs no title/segments


@cache
def _validators():
    """(episode, show) validators, built once per process; the schema itself is checked on the way."""
    from jsonschema import Draft202012Validator

    schema = _schema()
    Draft202012Validator.check_schema(schema)
    defs = {id(v): k for k, v in schema["$defs"].items()}
    return Draft202012Validator(schema), Draft202012Validator(_show_schema(schema)), defs


# ----------------------------------------------------------------------------------------- small helpers

def _suggest(word: str, candidates) -> str | None:
    """The closest other candidate: an exact match ignoring case first, then difflib's best near-miss."""
    by_lower: dict[str, str] = {}
    for c in candidates:
        if c != word:
            by_lower.setdefault(c.lower(), c)
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return by_lower[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def _inline(value: Any) -> str:
    """A value as a short YAML flow snippet, for examples inside messages."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, str):
        plain = (value == value.strip() and value and not value.startswith(tuple("!&*|>'\"%@`-?#"))
                 and not re.search(r": | #|[,\[\]{}]|:$", value))
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _kind(segment: dict) -> str:
    """The segment's form, decided exactly as the schema's if/then chain decides it."""
    if "dialogue" in segment:
        return "dialogue"
    if "pause" in segment:
        return "pause"
    if "sound" in segment:
        return "sound"
    if "speaker" in segment or "text" in segment:
        return "line"
    return "shorthand"


def _display_join(base_file: str, relative: str) -> str:
    """A path named inside ``base_file``, spelled the way the user spells ``base_file``."""
    if os.path.isabs(relative):
        return relative
    return os.path.normpath(os.path.join(os.path.dirname(base_file), relative))


def _merge(base: Any, over: Any) -> Any:
    """Deep merge for ``extends``: mappings merge recursively and ``over`` wins; anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


def _inside(path: Path, root_real: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root_real)
    except (OSError, RuntimeError):  # a symlink loop cannot lead anywhere useful
        return False


# ----------------------------------------------------------------------------------------------- views

class _View:
    """A document as validated: merged data plus the files it came from, the episode first.

    A merged value comes from the first file in the chain that contains its path (the episode wins, and a
    list or scalar replaced by the episode leaves no path of the show file's value behind), so every
    diagnostic points into the file where the value was written.
    """

    def __init__(self, data: dict, docs: list[YamlDoc]):
        self.data = data
        self.docs = docs
        self.diagnostics: list[Diagnostic] = []

    def origin(self, path: DocPath) -> YamlDoc:
        for doc in self.docs:
            if path in doc.marks:  # a document has a mark for exactly the paths its data contains
                return doc
        return self.docs[0]

    def loc(self, path: DocPath, *, key: bool = False) -> Loc:
        doc = self.origin(path)
        found = doc.key_loc(path) if key else None
        while found is None and path:
            found = doc.loc(path)
            path = path[:-1]
        return found or doc.loc(()) or Loc(doc.file, 1, 1)

    def broken(self, path: DocPath) -> bool:
        """Whether the value was already rejected while loading (its error is reported)."""
        return path in self.origin(path).broken

    def source(self, path: DocPath, value: Any) -> str:
        """What the user wrote for a non-string scalar (``yes`` rather than True)."""
        return self.origin(path).sources.get(path) or json.dumps(value)

    def add(self, path: DocPath, message: str, *, key: bool = False, severity: str = "error",
            field: DocPath | None = None) -> None:
        loc = self.loc(path, key=key)
        self.diagnostics.append(Diagnostic(loc.file, loc.line, loc.column,
                                           format_path(path if field is None else field), message, severity))

    def warn(self, path: DocPath, message: str, *, key: bool = False) -> None:
        self.add(path, message, key=key, severity="warning")

    @property
    def failed(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


# ------------------------------------------------------------------------------------------ schema errors

_TYPE_NAMES = {"string": "text", "number": "a number", "integer": "a whole number", "object": "a mapping",
               "array": "a list", "boolean": "true or false", "null": "nothing"}
_DEF_NAMES = {"show": "at the top level", "speaker": "in a speaker", "output": "in output",
              "lineSegment": "in a speaker/text segment", "dialogueSegment": "in a dialogue segment",
              "pauseSegment": "in a pause segment", "soundSegment": "in a sound segment"}


def _describe(view: _View, path: DocPath, value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{view.source(path, value)} (YAML reads it as {str(value).lower()})"
    if _is_number(value):
        return f"the number {view.source(path, value)}"
    if isinstance(value, str):
        return f"the text {json.dumps(value, ensure_ascii=False)}" if len(value) <= 40 else "a text"
    return "a list" if isinstance(value, list) else "a mapping"


def _examples(schema: dict) -> list:
    """A subschema's examples, or those of the local definition it refers to."""
    if "examples" in schema:
        return schema["examples"]
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return _schema()["$defs"].get(ref[len("#/$defs/"):], {}).get("examples", [])
    return []


def _properties(schema: dict) -> dict:
    """A subschema's properties, or those of the local definition it refers to (the top level's)."""
    if "properties" in schema:
        return schema["properties"]
    ref = schema.get("$ref", "")
    return _schema()["$defs"].get(ref[len("#/$defs/"):], {}).get("properties", {}) if ref else {}


def _example(schema: dict) -> str:
    examples = _examples(schema)
    return f", e.g. `{_inline(examples[0])}`" if examples else ""


def _schema_error(view: _View, error, defs: dict[int, str], misspelt: set) -> None:
    path = tuple(error.absolute_path)
    keyword, value, instance, schema = error.validator, error.validator_value, error.instance, error.schema
    where = defs.get(id(schema))
    if "propertyNames" in error.absolute_schema_path:  # a bad key (speaker id): locate the key itself
        key_path = (*path, instance)
        if keyword == "not":
            view.add(key_path, f"{instance!r} cannot be a speaker id: it is the name of a segment field; "
                               "choose another id", key=True)
        else:
            view.add(key_path, f"{instance!r} {schema.get('patternErrorMessage', 'is not a valid name')}",
                     key=True)
        return
    if keyword == "type":
        wanted = value if isinstance(value, str) else value[0]
        message = f"expected {_TYPE_NAMES.get(wanted, wanted)}, got {_describe(view, path, instance)}"
        if wanted == "string" and (_is_number(instance) or isinstance(instance, bool)):
            message += f"; put it in quotes if you mean the text: \"{view.source(path, instance)}\""
        elif instance is None:
            message += "; give it a value or delete the key"
        elif wanted in ("object", "array"):
            message += _example(schema)
        view.add(path, message)
    elif keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance and (path, name) not in misspelt:
                examples = _examples(_properties(schema).get(name, {}))
                hint = f"; add e.g. `{name}: {_inline(examples[0])}`" if examples else ""
                view.add(path, f"missing required field {name!r}{hint}", field=(*path, name))
    elif keyword == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        for name in instance:
            if name in allowed:
                continue
            suggestion = _suggest(name, allowed)
            context = f" {_DEF_NAMES[where]}" if where in _DEF_NAMES else ""
            if suggestion:
                message = f"unknown field {name!r}{context}; did you mean {suggestion!r}?"
            else:
                message = f"unknown field {name!r}{context} (allowed here: {', '.join(allowed)})"
            view.add((*path, name), message, key=True)
    elif keyword == "enum":
        suggestion = _suggest(str(instance), [str(v) for v in value])
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        view.add(path, f"{_inline(instance)} is not one of: {', '.join(map(str, value))}{hint}")
    elif keyword == "const":
        view.add(path, f"must be {_inline(value)}, got {_describe(view, path, instance)}")
    elif keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            bounds = f"between {low} and {high}"
        else:
            bounds = f"at least {low}" if keyword == "minimum" else f"at most {high}"
        view.add(path, f"must be {bounds}, got {view.source(path, instance)}")
    elif keyword == "exclusiveMinimum":
        view.add(path, f"must be more than {value}, got {view.source(path, instance)}")
    elif keyword == "minItems":
        what = {"dialogue": "turn", "segments": "segment"}.get(path[-1] if path else "", "item")
        examples = _examples(schema.get("items", {}))
        hint = f", e.g. `- {_inline(examples[0])}`" if examples else ""
        view.add(path, f"needs at least one {what}{hint}")
    elif keyword == "minProperties":
        if where == "turn":
            view.add(path, "a dialogue turn is one `<speaker>: text` pair, e.g. `- host: Hello`")
        else:
            view.add(path, f"must not be empty{_example(schema)}")
    elif keyword == "maxProperties":
        names = ", ".join(map(repr, instance))
        view.add(path, f"a dialogue turn is one `<speaker>: text` pair, found {len(instance)} ({names}): "
                       "start each turn on its own line with '- '")
    elif keyword == "anyOf":
        # a value that is the right kind but wrong inside: report that, not "matches none of the forms"
        deepest = max((len(e.absolute_path) for e in error.context), default=0)
        keys = [e for e in error.context if "propertyNames" in e.absolute_schema_path]
        if keys or deepest > len(path):
            for sub in keys or [e for e in error.context if len(e.absolute_path) == deepest]:
                _schema_error(view, sub, defs, misspelt)
        else:
            view.add(path, f"{schema.get('errorMessage', 'has the wrong form')}; got {_describe(view, path, instance)}")
    elif keyword == "pattern":
        message = schema.get("patternErrorMessage") or f"does not match {value}"
        view.add(path, f"{instance!r} {message}" if message.startswith("is ") else message)
    else:
        view.add(path, error.message)


# ------------------------------------------------------------------------------------------- the loader

class _Session:
    """One ``load_episodes`` call: files are read once, show files validated once."""

    def __init__(self, root: Path, allow_outside: bool = False,
                 library: Callable[[], VoiceLibrary | None] | None = None):
        self.root = root
        self._library_source = library
        self._library: tuple[VoiceLibrary | None] | None = None
        self.root_real = root.resolve()
        self.allow_outside = allow_outside  # the user's explicit --allow-outside-root
        self.fields = segment_fields()
        self.formats = formats()
        self.diagnostics: list[Diagnostic] = []
        self._docs: dict[Path, YamlDoc | None] = {}
        self._shows_checked: set[Path] = set()
        self._outputs: dict[Path, tuple[str, str]] = {}  # output path sans suffix -> (spec file, shown path)

    def inside(self, path: Path) -> bool:
        return self.allow_outside or _inside(path, self.root_real)

    def library(self) -> VoiceLibrary | None:
        """The stored Extended Voice Library list, read once and only when a voice needs it."""
        if self._library is None:
            self._library = (self._library_source() if self._library_source else None,)
        return self._library[0]

    def read(self, path: Path, file: str, top: str = SPEC_TOP) -> YamlDoc | None:
        """The document at ``path`` (absolute), named ``file`` in messages; None when unusable."""
        real = path.resolve()
        if real not in self._docs:
            doc, problems = load_yaml(path, file, top)
            self._docs[real] = doc
            self.diagnostics.extend(problems)
        return self._docs[real]

    def chain(self, doc: YamlDoc) -> tuple[list[YamlDoc], bool]:
        """The document and its show files (nearest first); False when the chain is broken."""
        docs = [doc]
        seen = [doc.path.resolve()]
        while isinstance(docs[-1].data.get("extends"), str) and docs[-1].data["extends"].strip():
            current = docs[-1]
            name = current.data["extends"]
            target = Path(name) if os.path.isabs(name) else current.path.parent / name
            shown = _display_join(current.file, name)
            loc = current.loc(("extends",))
            real = target.resolve()
            if real in seen:
                cycle = " -> ".join([d.file for d in docs] + [shown])
                self.diagnostics.append(Diagnostic(loc.file, loc.line, loc.column, "extends",
                                                   f"extends cycle: {cycle}; remove one of these extends"))
                return docs, False
            if not self.inside(target):
                # A show file outside the project could be any file on the machine, quoted back in messages.
                self.diagnostics.append(Diagnostic(
                    loc.file, loc.line, loc.column, "extends",
                    f"show file '{shown}' is outside the project root; keep show files inside the project"))
                return docs, False
            if not target.is_file():
                problem = "is a directory" if target.is_dir() else "not found"
                self.diagnostics.append(Diagnostic(
                    loc.file, loc.line, loc.column, "extends",
                    f"show file '{shown}' {problem} (extends paths are relative to the file that names them)"))
                return docs, False
            show = self.read(target, shown)
            if show is None:
                return docs, False
            if real not in self._shows_checked:
                self._shows_checked.add(real)
                view = _View(show.data, [show])
                self.schema_check(view, show=True)
                self.diagnostics.extend(view.diagnostics)
            docs.append(show)
            seen.append(real)
        return docs, True

    def schema_check(self, view: _View, *, show: bool, skip: frozenset = frozenset()) -> None:
        fast = _fast_checks()
        if fast is not None and fast[show](view.data):
            return  # valid: no need for jsonschema, which is only here to explain errors
        episode_validator, show_validator, defs = _validators()
        validator = show_validator if show else episode_validator
        errors = [e for e in validator.iter_errors(view.data)
                  if tuple(e.absolute_path)[:3] not in skip and not view.broken(tuple(e.absolute_path))]
        # a misspelt required field shows up twice (unknown 'txt', missing 'text'): say it once
        misspelt = {(tuple(e.absolute_path), _suggest(name, e.schema.get("properties", {})))
                    for e in errors if e.validator == "additionalProperties" for name in e.instance}
        for error in errors:
            _schema_error(view, error, defs, misspelt)

    def load(self, path: Path, file: str) -> Episode | None:
        doc = self.read(path, file)
        if doc is None:
            return None
        docs, whole = self.chain(doc)
        if not whole:  # still report this file's own structural problems
            view = _View(doc.data, [doc])
            self.schema_check(view, show=True)
            self.diagnostics.extend(view.diagnostics)
            return None
        data = doc.data
        for show in docs[1:]:
            data = _merge(show.data, data)
        view = _View(data, docs)
        placed = lexicon.resolve(docs, lambda p, shown: self.read(p, shown, lexicon.TOP), self.inside,
                                 view.diagnostics)
        skip = self.check_speakers(view)
        self.schema_check(view, show=False, skip=skip)
        segment_ids = self.check_segments(view)
        output = self.check_output(view, doc)
        if "artwork" in view.data:
            self.check_sound(view, ("artwork",), view.data["artwork"], what="artwork")
        self.check_music(view, segment_ids)
        self.check_model(view)
        self.diagnostics.extend(view.diagnostics)
        files = {d.file for d in docs}  # a problem anywhere in the chain (even one the merge hides) means
        if view.failed or any(d.severity == "error" and d.file in files for d in self.diagnostics):
            return None  # the data is not known to be sound: resolving it could only go wrong
        episode = _episode(view, doc, segment_ids, output, self, tuple(p.entry for p in placed))
        self.diagnostics.extend(lexicon.unused(placed, [t.text for s in episode.segments for t in s.turns]))
        return episode

    # ------------------------------------------------------------------------------------ semantic checks

    def check_speakers(self, view: _View) -> frozenset:
        """Speakers: declared, real voices, unique names; and every reference to them. Returns the paths
        of shorthand keys that name no speaker, whose values the schema need not complain about again."""
        data = view.data
        speakers = data.get("speakers") if isinstance(data.get("speakers"), dict) else {}
        declared = list(speakers)
        valid_ids = [sid for sid in declared if _SPEAKER_ID.fullmatch(sid) and sid not in self.fields]
        if "speakers" not in data:
            view.add((), "no speakers declared: add a speakers: mapping such as `host: {voice: Zephyr}` "
                         "(in this file or in the show file it extends)", field=("speakers",))
        names: dict[str, str] = {}
        for sid, spec in speakers.items():
            if not isinstance(spec, dict):
                continue
            voice = spec.get("voice")
            if isinstance(voice, str) and voice.strip() and voice not in GEMINI_VOICES:
                self.check_voice(view, ("speakers", sid, "voice"), voice)
            name = spec.get("name")
            if name is not None and not isinstance(name, str):
                continue
            label = name.strip() if name is not None else sid.capitalize()
            other = names.get(label.casefold())
            if other is not None:
                where = ("speakers", sid, "name") if name is not None else ("speakers", sid)
                view.add(where, f"display name {label!r} is also the name of speaker {other!r}; give each "
                                "speaker its own name: (it labels their lines in dialogue)",
                         key=name is None)
            else:
                names[label.casefold()] = sid

        skip: set[DocPath] = set()
        if not isinstance(data.get("speakers"), dict):
            return frozenset(skip)  # missing or malformed, and reported: every reference would be noise
        if valid_ids:
            fix = f"declare it under speakers:, or use one of: {', '.join(valid_ids)}"
        else:
            fix = "declare it under speakers:, e.g. `host: {voice: Zephyr}`"

        def undeclared(path: DocPath, sid: str, *, key: bool) -> None:
            suggestion = _suggest(sid, valid_ids)
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            view.add(path, f"speaker {sid!r} is not declared{hint} ({fix})", key=key)

        segments = data.get("segments") if isinstance(data.get("segments"), list) else []
        content_fields = sorted(self.fields)
        for i, seg in enumerate(segments):
            if not isinstance(seg, dict):
                continue
            kind = _kind(seg)
            if kind == "line" and isinstance(seg.get("speaker"), str) and seg["speaker"] not in declared:
                undeclared(("segments", i, "speaker"), seg["speaker"], key=False)
            elif kind == "dialogue" and isinstance(seg["dialogue"], list):
                for j, turn in enumerate(seg["dialogue"]):
                    if isinstance(turn, dict):
                        for sid in turn:
                            if sid not in declared:
                                undeclared(("segments", i, "dialogue", j, sid), sid, key=True)
            elif kind == "shorthand":
                keys = [k for k in seg if k not in self.fields]
                if not keys:
                    view.add(("segments", i), "this segment has nothing to say or play: add `<speaker>: "
                                              "text`, `speaker:` with `text:`, `dialogue:`, `pause:` or `sound:`")
                for k in keys:
                    if k in declared:
                        continue
                    skip.add(("segments", i, k))
                    suggestion = _suggest(k, valid_ids + content_fields)
                    if suggestion in self.fields:
                        view.add(("segments", i, k), f"{k!r} is neither a declared speaker nor a segment "
                                                     f"field; did you mean {suggestion!r}?", key=True)
                    else:
                        undeclared(("segments", i, k), k, key=True)
                speaking = [k for k in keys if k in declared]
                if len(speaking) > 1:
                    listed = " and ".join(map(repr, speaking))
                    view.add(("segments", i, speaking[1]), f"a shorthand segment has one speaker, found {listed}: "
                                                       "use a dialogue: block for several turns, or split it "
                                                       "into one segment per line", key=True)
        return frozenset(skip)

    def check_voice(self, view: _View, path: DocPath, voice: str) -> None:
        """A voice beyond the 30 prebuilt ones: a custom id or a library name, on a model that takes it."""
        model = view.data.get("model") if isinstance(view.data.get("model"), str) else DEFAULT_MODEL
        library = None if is_custom(voice) else self.library()
        if is_custom(voice) or (library and voice in library.names):
            if not model_info(model).voice_ids:
                what = "custom voice ids" if is_custom(voice) else "Extended Voice Library voices"
                view.add(path, f"{model} cannot use {what} (only the 3.8 models and later take them); use one "
                               "of the 30 prebuilt voices (`podpipe voices`), or model: gemini-3.8-flash-tts")
            return
        known = set(GEMINI_VOICES) | (library.names if library else set())
        suggestion = _suggest(voice, known)
        if suggestion and suggestion.lower() == voice.lower():
            hint = f"; did you mean {suggestion!r}? (voice names are case-sensitive)"
        elif suggestion:
            hint = f"; did you mean {suggestion!r}?"
        elif library:
            hint = "; `podpipe voices --backend gemini` lists the voices"
        else:
            hint = ("; `podpipe voices` lists the 30 prebuilt voices (to use Extended Voice Library voices, "
                    "fetch their list once with `podpipe voices --backend gemini --refresh` and a key)")
        view.add(path, f"unknown voice {voice!r}{hint}")

    def check_segments(self, view: _View) -> list[str]:
        """Segment ids unique, sound files real and inside the root, temperature warnings; returns ids."""
        data = view.data
        segments = data.get("segments") if isinstance(data.get("segments"), list) else []
        model = data.get("model") if isinstance(data.get("model"), str) else DEFAULT_MODEL
        fragile = model_info(model).low_temperature_fails
        if fragile:
            self.warn_temperature(view, ("temperature",), data.get("temperature"), model)
        if not model_info(model).sampling:
            self.warn_sampling(view, segments, model)
        ids: dict[str, tuple[int, bool]] = {}
        result = []
        for i, seg in enumerate(segments):
            if not isinstance(seg, dict):
                result.append(f"s{i + 1}")
                continue
            explicit = isinstance(seg.get("id"), str)
            seg_id = seg["id"] if explicit else f"s{i + 1}"
            result.append(seg_id)
            if seg_id in ids:
                first, first_explicit = ids[seg_id]
                line = view.loc(("segments", first)).line
                origin = "id" if first_explicit else "default id"
                if explicit:
                    view.add(("segments", i, "id"), f"segment id {seg_id!r} is already the {origin} of "
                                                    f"segments[{first}] (line {line}); choose another id")
                else:
                    view.add(("segments", i), f"this segment's default id {seg_id!r} is already the id of "
                                              f"segments[{first}] (line {line}); give one of them another id")
            else:
                ids[seg_id] = (i, explicit)
            kind = _kind(seg)
            if kind == "sound":
                self.check_sound(view, ("segments", i, "sound"), seg["sound"])
            elif fragile and kind != "pause":
                self.warn_temperature(view, ("segments", i, "temperature"), seg.get("temperature"), model)
        return result

    @staticmethod
    def warn_sampling(view: _View, segments: list, model: str) -> None:
        """One warning per spec, at the first temperature, for a model that rejects sampling settings."""
        paths = [("temperature",)] if _is_number(view.data.get("temperature")) else []
        paths += [("segments", i, "temperature") for i, seg in enumerate(segments)
                  if isinstance(seg, dict) and _is_number(seg.get("temperature"))]
        if not paths:
            return
        more = f" (set in {len(paths)} places in this spec)" if len(paths) > 1 else ""
        view.warn(paths[0], f"{model} does not take temperature (3.8 models reject sampling settings), so "
                            f"podpipe does not send it{more}: remove it; for another reading of a line bump its "
                            "`take:`, for another delivery write a `style:`")

    @staticmethod
    def warn_temperature(view: _View, path: DocPath, value: Any, model: str) -> None:
        if _is_number(value) and model_info(model).fails_at(value):
            view.warn(path, f"temperature {view.source(path, value)} is known to fail with {model} (it "
                            f"answers without audio at {LOW_TEMPERATURE} or lower); use 0.5 or higher")

    def check_music(self, view: _View, segment_ids: list[str]) -> None:
        """Music beds: files real and inside the root, from/to naming segments in order."""
        beds = view.data.get("music")
        if not isinstance(beds, list):
            return
        for i, bed in enumerate(beds):
            if not isinstance(bed, dict):
                continue
            self.check_sound(view, ("music", i, "file"), bed.get("file"), what="music")
            where = {}
            for key in ("from", "to"):
                value = bed.get(key)
                if not isinstance(value, str):
                    continue
                if value not in segment_ids:
                    suggestion = _suggest(value, segment_ids)
                    hint = f"did you mean {suggestion!r}?" if suggestion else f"segment ids: {', '.join(segment_ids)}"
                    view.add(("music", i, key), f"no segment has the id {value!r}; {hint}")
                else:
                    where[key] = segment_ids.index(value)
            if len(where) == 2 and where["from"] > where["to"]:
                view.add(("music", i, "to"), f"segment {bed['to']!r} comes before {bed['from']!r}: a bed runs "
                                             "from an earlier segment to a later one (or the same)")

    def check_sound(self, view: _View, path: DocPath, value: Any, what: str = "sound") -> None:
        """A file named in the spec (a sound, the artwork): inside the root, existing, a file."""
        if not isinstance(value, str) or not value.strip():
            return
        origin = view.origin(path)
        target = Path(value) if os.path.isabs(value) else origin.path.parent / value
        shown = _display_join(origin.file, value)
        if not self.inside(target):
            if os.path.normpath(target).startswith(str(self.root) + os.sep) and target.is_symlink():
                message = f"{what} {value!r} is a symlink to a file outside the project root"
            else:
                message = f"{what} {value!r} is outside the project root"
            view.add(path, message + "; copy the file into the project and name it relative to the spec")
        elif not target.exists():
            view.add(path, f"{what} file not found: '{shown}' ({what} paths are relative to the file that "
                           "names them)")
        elif not target.is_file():
            view.add(path, f"{what} '{shown}' is a directory, not "
                           f"{'an audio file' if what == 'sound' else 'an image'}")

    def check_output(self, view: _View, doc: YamlDoc) -> tuple[Path, str] | None:
        """The output path and format, checked (suffix vs format, inside root, no clash); None if bad."""
        out = view.data.get("output")
        out = out if isinstance(out, dict) else {}
        fmt = out.get("format") if out.get("format") in self.formats else None
        if out.get("format") is not None and fmt is None:
            return None  # the schema reports it
        value = out.get("path")
        if value is None:
            fmt = fmt or DEFAULT_FORMAT
            shown = os.path.join("build", f"{doc.path.stem}.{fmt}")
        elif not isinstance(value, str) or not value.strip():
            return None
        else:
            shown = value
            suffix = Path(value).suffix.lower().lstrip(".")
            if suffix in self.formats:
                if fmt and fmt != suffix:
                    view.add(("output", "format"), f"format {fmt} does not match output.path {value!r}: make "
                                                   "them agree, or drop format: (the suffix decides)")
                    return None
                fmt = suffix
            elif not suffix:
                fmt = fmt or DEFAULT_FORMAT
                shown = f"{value}.{fmt}"
            else:
                needs = f".{fmt}" if fmt else " or ".join(f".{f}" for f in self.formats)
                view.add(("output", "path"), f"cannot write {value!r}: end the path in {needs}")
                return None
        target = Path(shown)
        target = Path(os.path.normpath(target if target.is_absolute() else self.root / target))
        if not self.inside(target):
            named = (repr(value) if value is not None else
                     f"'{os.path.relpath(target, self.root)}' (the default, through a symlinked folder)")
            view.add(("output", "path"), f"output path {named} is outside the project root; write inside the "
                                         f"project, e.g. build/{doc.path.stem}.{fmt}")
            return None
        if target.is_dir():
            view.add(("output", "path"), f"output path {value!r} is a directory; name a file such as "
                                         f"{os.path.join(value, doc.path.stem)}.{fmt}")
            return None
        # two episodes writing one file (or one manifest: <stem>.manifest.json sits next to the audio)
        clash_key = target.resolve().with_suffix("")
        if clash_key in self._outputs:
            other, other_shown = self._outputs[clash_key]
            where = ("output", "path") if value is not None else ()
            view.add(where, f"writes {shown}, which clashes with {other_shown} of {other}: give one of them "
                            "another output.path", field=("output", "path"))
            return None
        self._outputs[clash_key] = (doc.file, shown)
        rate = out.get("sample_rate")
        if fmt == "ogg" and _is_number(rate) and rate not in OPUS_RATES:
            view.add(("output", "sample_rate"), f"Opus (ogg) cannot run at {rate} Hz: use one of "
                                                f"{', '.join(map(str, OPUS_RATES))}, or drop sample_rate (48000)")
            return None
        return target, fmt

    def check_model(self, view: _View) -> None:
        model = view.data.get("model")
        if (not isinstance(model, str) or not model.strip() or model in KNOWN_MODELS
                or _TTS_MODEL_NAME.fullmatch(model)):
            return
        suggestion = _suggest(model, KNOWN_MODELS)
        hint = f"did you mean {suggestion!r}?" if suggestion else f"known TTS models: {', '.join(KNOWN_MODELS)}"
        view.warn(("model",), f"unknown model {model!r} (it is passed to the backend as is); {hint}")


# ------------------------------------------------------------------------------------------- resolution

def _float(value: Any, default: float | None = None) -> float | None:
    return float(value) if _is_number(value) else default


def _episode(view: _View, doc: YamlDoc, segment_ids: list[str], output: tuple[Path, str] | None,
             session: _Session, entries: tuple[LexiconEntry, ...]) -> Episode:
    data = view.data
    if output is None:  # no errors means check_output produced one
        raise AssertionError("output unresolved in a spec without errors")
    speakers = []
    for sid, spec in data["speakers"].items():
        name = _text(spec.get("name")) or sid.capitalize()
        speakers.append(Speaker(id=sid, voice=spec["voice"], name=name, style=_text(spec.get("style"))))
    segments = []
    for i, seg in enumerate(data["segments"]):
        where = ("segments", i)
        common = dict(index=i, id=segment_ids[i], line=view.loc(where).line, chapter=_text(seg.get("chapter")))
        kind = _kind(seg)
        if kind == "pause":
            segments.append(Segment(kind="pause", pause=float(seg["pause"]), **common))
            continue
        if kind == "sound":
            origin = view.origin((*where, "sound"))
            path = Path(os.path.normpath(origin.path.parent / seg["sound"]))
            sound = Sound(path=path, gain_db=_float(seg.get("gain_db"), 0.0),
                          fade_in=_float(seg.get("fade_in"), 0.0), fade_out=_float(seg.get("fade_out"), 0.0))
            segments.append(Segment(kind="sound", sound=sound, **common))
            continue
        if kind == "dialogue":
            turns = tuple(Turn(sid, text.strip(), view.loc((*where, "dialogue", j, sid), key=True).line)
                          for j, turn in enumerate(seg["dialogue"]) for sid, text in turn.items())
        elif kind == "line":
            turns = (Turn(seg["speaker"], seg["text"].strip(), view.loc((*where, "text")).line),)
        else:
            sid = next(k for k in seg if k not in session.fields)
            turns = (Turn(sid, seg[sid].strip(), view.loc((*where, sid), key=True).line),)
        segments.append(Segment(kind="dialogue" if kind == "dialogue" else "speech", turns=turns,
                                style=_text(seg.get("style")), temperature=_float(seg.get("temperature")),
                                take=int(seg.get("take", 1)), **common))
    out = data.get("output") if isinstance(data.get("output"), dict) else {}
    path, fmt = output
    episode_number = data.get("episode")
    return Episode(
        path=doc.path,
        title=data["title"].strip(),
        speakers=tuple(speakers),
        segments=tuple(segments),
        output=Output(path=path, format=fmt, gap=_float(out.get("gap"), DEFAULT_GAP),
                      loudness=_float(out["loudness"]) if "loudness" in out else DEFAULT_LOUDNESS,
                      true_peak=_float(out.get("true_peak"), DEFAULT_TRUE_PEAK),
                      bitrate=int(out["bitrate"]) if _is_number(out.get("bitrate")) else None,
                      sample_rate=int(out["sample_rate"]) if _is_number(out.get("sample_rate")) else None,
                      channels=int(out["channels"]) if _is_number(out.get("channels")) else 1,
                      crossfade=_float(out.get("crossfade"), 0.0)),
        model=_text(data.get("model")) or DEFAULT_MODEL,
        temperature=_float(data.get("temperature")),
        language=_text(data.get("language")),
        style=_text(data.get("style")),
        description=_text(data.get("description")),
        author=_text(data.get("author")),
        episode=int(episode_number) if _is_number(episode_number) else None,
        show=_text(data.get("show")),
        version=int(data.get("version", 1)),
        artwork=_artwork(view),
        music=_music(view, segment_ids),
        date=_text(data.get("date")),
        lexicon=entries,
    )


def _music(view: _View, segment_ids: list[str]) -> tuple[MusicBed, ...]:
    beds = []
    for i, bed in enumerate(view.data.get("music") or ()):
        origin = view.origin(("music", i, "file"))
        beds.append(MusicBed(
            path=Path(os.path.normpath(origin.path.parent / bed["file"])),
            start_segment=segment_ids.index(bed["from"]) if "from" in bed else 0,
            end_segment=segment_ids.index(bed["to"]) if "to" in bed else len(segment_ids) - 1,
            gain_db=_float(bed.get("gain_db"), -18.0), duck_db=_float(bed.get("duck_db"), -12.0),
            fade_in=_float(bed.get("fade_in"), 1.0), fade_out=_float(bed.get("fade_out"), 2.0),
            loop=bool(bed.get("loop", True))))
    return tuple(beds)


def _artwork(view: _View) -> Path | None:
    value = view.data.get("artwork")
    if not isinstance(value, str):
        return None
    return Path(os.path.normpath(view.origin(("artwork",)).path.parent / value))


def load_episodes(paths: Sequence[str | Path], *, root: Path | None = None, allow_outside: bool = False,
                  library: Callable[[], VoiceLibrary | None] | None = None, strict: bool = False) -> LoadResult:
    """Load, validate and resolve every spec in ``paths``.

    ``root`` is the project root (default: the working directory): sound and output paths must stay
    inside it and relative output paths are relative to it. Every file is read and every problem of every
    file collected; if any is an error, raises ``SpecError`` with all of them (warnings included), sorted
    by file, line and column. A path given twice is loaded once. ``allow_outside`` lifts the project-root
    confinement of show files, sounds, artwork and outputs (the CLI's explicit ``--allow-outside-root``).
    ``library`` returns the stored Extended Voice Library list (called only when a voice is not one of the
    30 prebuilt names or a custom id). ``strict`` turns every warning into an error (``--strict``, for CI).
    """
    root = Path(os.path.abspath(root if root is not None else os.getcwd()))
    session = _Session(root, allow_outside, library)
    episodes = []
    seen: set[Path] = set()
    for given in paths:
        real = Path(os.path.abspath(given))
        if real in seen:
            continue
        seen.add(real)
        episode = session.load(real, os.fspath(given))
        if episode is not None:
            episodes.append(episode)
    diagnostics = sorted(dict.fromkeys(session.diagnostics),
                         key=lambda d: (d.file, d.line, d.column, d.severity != "error", d.field, d.message))
    if strict:
        diagnostics = [replace(d, severity="error", message=f"{d.message} (an error under --strict)")
                       if d.severity == "warning" else d for d in diagnostics]
    if any(d.severity == "error" for d in diagnostics):
        raise SpecError(diagnostics)
    return LoadResult(tuple(episodes), tuple(diagnostics))
