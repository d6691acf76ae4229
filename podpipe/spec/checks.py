"""The semantic checks: what the schema cannot say about an episode.

The schema checks each value on its own; these rules relate values to each other and to the world: every
speaker a segment names is declared, voices are real (and taken by the model), segment ids are unique and
music beds name them in order, files exist inside the project root, two episodes never write one output,
and settings the model is known to reject or fail on are warned about. Each rule skips values the schema
rejects, so a problem is reported once, by whichever knows more about it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from podpipe.formats import FORMATS
from podpipe.spec.episode import DEFAULT_FORMAT, default_name
from podpipe.spec.feedcheck import check_feed
from podpipe.spec.messages import report_schema_errors, suggest
from podpipe.spec.schema import formats, is_speaker_id, segment_fields, segment_kind
from podpipe.spec.rules import Judge, ModelRules
from podpipe.spec.schemacheck import is_number
from podpipe.spec.textcheck import check_texts
from podpipe.spec.view import View
from podpipe.spec.yamldoc import DocPath, YamlDoc



class Checker:
    """The semantic checks of one ``load_episodes`` call.

    One checker sees every episode of the call, because some rules span episodes (two must not write one
    file). Voices and model settings are judged by the backend that owns the episode's model
    (``rules.spec_judge``: the commands pass ``podpipe.backends``), whatever backend will render it;
    ``cache_root`` is where a backend may keep the voice list it fetched.
    """

    def __init__(self, root: Path, allow_outside: bool = False, cache_root: Path | None = None,
                 feed: bool = False, rules: ModelRules | None = None):
        self.root = root
        self.rules = rules
        self.feed = feed  # the episodes go into a feed: each needs what an item needs (podpipe feed)
        self.root_real = root.resolve()
        self.allow_outside = allow_outside  # the user's explicit --allow-outside-root
        self.cache_root = cache_root
        self._outputs: dict[Path, tuple[str, str]] = {}  # output path sans suffix -> (spec file, shown path)

    def inside(self, path: Path) -> bool:
        """Whether ``path`` stays inside the project root (after symlinks), or confinement is lifted."""
        if self.allow_outside:
            return True
        try:
            return path.resolve().is_relative_to(self.root_real)
        except (OSError, RuntimeError):  # a symlink loop cannot lead anywhere useful
            return False

    def check(self, view: View, doc: YamlDoc) -> tuple[list[str], tuple[Path, str] | None]:
        """Check the episode ``doc`` (merged as ``view``), schema included; returns its segment ids and its
        output (path, format), which is None when the output is not usable."""
        # speakers before the schema: a shorthand key that names no speaker is reported as such, and the
        # schema's complaint about its value would only repeat it
        skip = self.check_speakers(view)
        report_schema_errors(view, show=False, skip=skip)
        segment_ids = self.check_segments(view)
        output = self.check_output(view, doc)
        if "artwork" in view.data:
            self.check_sound(view, ("artwork",), view.data["artwork"], what="artwork")
        self.check_music(view, segment_ids)
        check_feed(view, lambda v, path, value: self.check_sound(v, path, value, what="artwork"),
                   required=self.feed)
        if self.rules is not None:
            check_model(view, self.rules)
        return segment_ids, output

    def check_speakers(self, view: View) -> frozenset:
        """Speakers: declared, real voices, unique names; and every reference to them. Returns the paths
        of shorthand keys that name no speaker, whose values the schema need not complain about again."""
        data = view.data
        speakers = data.get("speakers") if isinstance(data.get("speakers"), dict) else {}
        declared = list(speakers)
        valid_ids = [sid for sid in declared if is_speaker_id(sid)]
        if "speakers" not in data:
            view.add((), "no speakers declared: add a speakers: mapping such as `host: {voice: Zephyr}` "
                         "(in this file or in the show file it extends)", field=("speakers",))
        names: dict[str, str] = {}
        for sid, spec in speakers.items():
            if not isinstance(spec, dict):
                continue
            voice = spec.get("voice")
            if isinstance(voice, str) and voice.strip():
                self.check_voice(view, ("speakers", sid, "voice"), voice)
            name = spec.get("name")
            if name is not None and not isinstance(name, str):
                continue
            label = name.strip() if name is not None else default_name(sid)
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
            suggestion = suggest(sid, valid_ids)
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            view.add(path, f"speaker {sid!r} is not declared{hint} ({fix})", key=key)

        segments = data.get("segments") if isinstance(data.get("segments"), list) else []
        fields = segment_fields()
        content_fields = sorted(fields)
        for i, seg in enumerate(segments):
            if not isinstance(seg, dict):
                continue
            kind = segment_kind(seg)
            if kind == "line" and isinstance(seg.get("speaker"), str) and seg["speaker"] not in declared:
                undeclared(("segments", i, "speaker"), seg["speaker"], key=False)
            elif kind == "dialogue" and isinstance(seg["dialogue"], list):
                for j, turn in enumerate(seg["dialogue"]):
                    if isinstance(turn, dict):
                        for sid in turn:
                            if sid not in declared:
                                undeclared(("segments", i, "dialogue", j, sid), sid, key=True)
            elif kind == "shorthand":
                keys = [k for k in seg if k not in fields]
                if not keys:
                    view.add(("segments", i), "this segment has nothing to say or play: add `<speaker>: "
                                              "text`, `speaker:` with `text:`, `dialogue:`, `pause:` or `sound:`")
                for k in keys:
                    if k in declared:
                        continue
                    skip.add(("segments", i, k))
                    suggestion = suggest(k, valid_ids + content_fields)
                    if suggestion in fields:
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

    def check_voice(self, view: View, path: DocPath, voice: str) -> None:
        """A voice the backend owning the episode's model does not know, or that the model cannot take."""
        model = _model(view)
        judge = self.rules.spec_judge(model) if self.rules else None
        problem = judge.check_voice(voice, judge.model_for(model), self.cache_root) if judge else None
        if problem:
            view.add(path, problem)

    def check_segments(self, view: View) -> list[str]:
        """Segment ids unique, sound files real and inside the root, temperature, tag and script warnings
        (``spec.textcheck``); returns ids."""
        data = view.data
        segments = data.get("segments") if isinstance(data.get("segments"), list) else []
        judge = self.rules.spec_judge(_model(view)) if self.rules else None
        model = judge.model_for(_model(view)) if judge else ""
        sampling = judge is not None and judge.target(model).sampling
        if sampling:
            warn_temperature(view, ("temperature",), data.get("temperature"), judge, model)
        elif judge is not None:
            warn_sampling(view, segments, judge, model)
        ids: dict[str, tuple[int, bool]] = {}
        result = []
        for i, seg in enumerate(segments):
            explicit = isinstance(seg, dict) and isinstance(seg.get("id"), str)
            seg_id = seg["id"] if explicit else f"s{i + 1}"  # the default id, the schema's "s<1-based position>"
            if not isinstance(seg, dict):
                result.append(seg_id)
                continue
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
            kind = segment_kind(seg)
            if kind == "sound":
                self.check_sound(view, ("segments", i, "sound"), seg["sound"])
            elif sampling and kind != "pause":
                warn_temperature(view, ("segments", i, "temperature"), seg.get("temperature"), judge, model)
        check_texts(view, segments, judge, model)
        return result

    def check_music(self, view: View, segment_ids: list[str]) -> None:
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
                    suggestion = suggest(value, segment_ids)
                    hint = f"did you mean {suggestion!r}?" if suggestion else f"segment ids: {', '.join(segment_ids)}"
                    view.add(("music", i, key), f"no segment has the id {value!r}; {hint}")
                else:
                    where[key] = segment_ids.index(value)
            if len(where) == 2 and where["from"] > where["to"]:
                view.add(("music", i, "to"), f"segment {bed['to']!r} comes before {bed['from']!r}: a bed runs "
                                             "from an earlier segment to a later one (or the same)")

    def check_sound(self, view: View, path: DocPath, value: Any, what: str = "sound") -> None:
        """A file named in the spec (a sound, the artwork): inside the root, existing, a file."""
        if not isinstance(value, str) or not value.strip():
            return
        origin = view.origin(path)
        target = origin.target(value)
        shown = origin.shown(value)
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

    def check_output(self, view: View, doc: YamlDoc) -> tuple[Path, str] | None:
        """The output path and format, checked (suffix vs format, inside root, no clash); None if bad."""
        out = view.data.get("output")
        out = out if isinstance(out, dict) else {}
        fmt = out.get("format") if out.get("format") in formats() else None
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
            if suffix in formats():
                if fmt and fmt != suffix:
                    view.add(("output", "format"), f"format {fmt} does not match output.path {value!r}: make "
                                                   "them agree, or drop format: (the suffix decides)")
                    return None
                fmt = suffix
            elif not suffix:
                fmt = fmt or DEFAULT_FORMAT
                shown = f"{value}.{fmt}"
            else:
                needs = f".{fmt}" if fmt else " or ".join(f".{f}" for f in formats())
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
        codec = FORMATS.get(fmt)
        if codec is not None and codec.rates is not None and is_number(rate) and rate not in codec.rates:
            view.add(("output", "sample_rate"), f"{codec.codec} ({fmt}) cannot run at {rate} Hz: use one of "
                                                f"{', '.join(map(str, codec.rates))}, or drop sample_rate "
                                                f"({codec.rate})")
            return None
        return target, fmt


def check_model(view: View, rules: ModelRules) -> None:
    """A model name no backend owns (nor spells like a newer model of its own): likely a typo."""
    model = view.data.get("model")
    if not isinstance(model, str) or not model.strip() or rules.model_owner(model) is not None:
        return
    known = rules.known_models()
    suggestion = suggest(model, known)
    hint = f"did you mean {suggestion!r}?" if suggestion else f"known TTS models: {', '.join(known)}"
    view.warn(("model",), f"unknown model {model!r} (it is passed to the backend as is); {hint}")


def warn_sampling(view: View, segments: list, judge: Judge, model: str) -> None:
    """One warning per spec, at the first temperature, for a model that takes no sampling settings."""
    paths = [("temperature",)] if is_number(view.data.get("temperature")) else []
    paths += [("segments", i, "temperature") for i, seg in enumerate(segments)
              if isinstance(seg, dict) and is_number(seg.get("temperature"))]
    if not paths:
        return
    more = f" (set in {len(paths)} places in this spec)" if len(paths) > 1 else ""
    view.warn(paths[0], f"{model} does not take temperature{judge.sampling_note(model)}, so "
                        f"podpipe does not send it{more}: remove it; for another reading of a line bump its "
                        "`take:`, for another delivery write a `style:`")


def warn_temperature(view: View, path: DocPath, value: Any, judge: Judge, model: str) -> None:
    """A temperature the model is known to answer without audio at."""
    if is_number(value):
        problem = judge.temperature_warning(model, value, view.source(path, value))
        if problem:
            view.warn(path, problem)


def _model(view: View) -> str | None:
    """The model the episode names (None: the default; a bad value is the schema's to report)."""
    model = view.data.get("model")
    return model if isinstance(model, str) else None
