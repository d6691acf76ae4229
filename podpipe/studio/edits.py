"""Every decision the studio makes, written into the episode's spec as a minimal edit.

An edit is a frozen dataclass (``SetText``, ``SetStyle``, ``SetPronunciation``, ``MoveChapter``, ``PickTake``);
``apply_edit`` writes one into the spec file: only the span that carries the change is rewritten
(``podpipe.studio.yamledit``), so ``git diff`` shows exactly that change, with every comment, quote and
indentation kept. Before anything is written:

- the file must still be the one the edit was made against (its sha256, ``base_sha256``), else
  ``EditConflict`` carries the text on disk and the text the edit would have written: nothing is lost;
- the new text must pass podpipe's own validation, exactly as ``podpipe validate`` runs it, with messages
  naming the real file at the right line, else ``EditRefused`` carries the message.

Then the new text replaces the file atomically (``podpipe.files``). Segments are addressed by the ids
``podpipe build --only`` takes: their ``id:``, else ``s<position>`` counting from 1.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podpipe.errors import PodpipeError, SpecError
from podpipe.studio.yamledit import Doc, EditError


@dataclass(frozen=True)
class SetText:
    """A line's text; for a dialogue, the text of turn ``turn`` (0-based)."""

    segment_id: str
    text: str
    turn: int | None = None


@dataclass(frozen=True)
class SetStyle:
    """A spoken segment's ``style:``; None removes it."""

    segment_id: str
    style: str | None


@dataclass(frozen=True)
class SetPronunciation:
    """The episode's own lexicon entry for ``word`` (its written form): what the voice says; None removes it."""

    word: str
    say: str | None


@dataclass(frozen=True)
class MoveChapter:
    """The chapter ``title`` starts at segment ``to_segment_id`` instead of where it starts now."""

    title: str
    to_segment_id: str


@dataclass(frozen=True)
class PickTake:
    """Which take of a line the episode uses: ``take:`` (None removes it: take 1) and ``accept:`` (a take id,
    e.g. of a flagged or rejected take heard and kept; None removes it)."""

    segment_id: str
    take: int | None
    accept: str | None = None


Edit = SetText | SetStyle | SetPronunciation | MoveChapter | PickTake


@dataclass(frozen=True)
class Saved:
    sha256: str  # of the file as written
    diff: str  # unified diff of the change ("" when the edit changed nothing)
    warnings: tuple[str, ...] = ()  # validation warnings of the new text (file:line:col: ...)


class EditRefused(PodpipeError):
    """The edit would make the spec invalid (the validation message), or cannot be written as asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EditConflict(PodpipeError):
    """The file changed on disk since the page read it: nothing was written. ``disk`` is the file as it is
    now, ``mine`` the whole text this edit would have written (None when it does not apply to the new file),
    ``sha256`` the sha256 of ``disk``."""

    def __init__(self, path: Path, disk: str, mine: str | None, sha256: str):
        super().__init__(f"{path.name} changed on disk since it was read; nothing was written")
        self.path, self.disk, self.mine, self.sha256 = path, disk, mine, sha256


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _segments(doc: Doc) -> list[Any]:
    segments = doc.data.get("segments") if isinstance(doc.data, dict) else None
    if not isinstance(segments, list):
        raise EditRefused("this file has no segments: of its own (they come from a show file); edit them there")
    return segments


def segment_index(doc: Doc, segment_id: str) -> int:
    """Where the segment ``segment_id`` is in the file's ``segments:`` (its ``id:``, else ``s<position>``)."""
    segments = _segments(doc)
    for i, segment in enumerate(segments):
        own = segment.get("id") if isinstance(segment, dict) else None
        if (own if isinstance(own, str) else f"s{i + 1}") == segment_id:
            return i
    raise EditRefused(f"no segment with id {segment_id!r} in this file")


def _spoken(doc: Doc, segment_id: str) -> tuple[int, dict, str]:
    from podpipe.spec.schema import segment_kind

    i = segment_index(doc, segment_id)
    segment = _segments(doc)[i]
    kind = segment_kind(segment) if isinstance(segment, dict) else "?"
    if kind not in ("line", "shorthand", "dialogue"):
        raise EditRefused(f"segment {segment_id} is a {kind}, not spoken")
    return i, segment, kind


def _text_path(doc: Doc, edit: SetText) -> tuple[tuple, str]:
    """(mapping path, key) of the text ``edit`` changes."""
    from podpipe.spec.schema import segment_fields

    i, segment, kind = _spoken(doc, edit.segment_id)
    if kind == "dialogue":
        turns = segment.get("dialogue")
        n = 0 if edit.turn is None else edit.turn
        if not isinstance(turns, list) or not 0 <= n < len(turns) or not isinstance(turns[n], dict) \
                or len(turns[n]) != 1:
            raise EditRefused(f"segment {edit.segment_id} has no turn {n}")
        return ("segments", i, "dialogue", n), next(iter(turns[n]))
    if edit.turn not in (None, 0):
        raise EditRefused(f"segment {edit.segment_id} is a single line: it has no turn {edit.turn}")
    if kind == "line":
        return ("segments", i), "text"
    speakers = [k for k in segment if k not in segment_fields()]
    if len(speakers) != 1:
        raise EditRefused(f"segment {edit.segment_id} has no single speaker key")
    return ("segments", i), speakers[0]


def _lexicon(doc: Doc, edit: SetPronunciation) -> None:
    lexicon = doc.data.get("lexicon")
    word, say = edit.word, edit.say
    if say is not None and not say.strip():
        raise EditRefused("a pronunciation cannot be empty; remove it instead")
    if lexicon is None:
        if say is not None:
            doc.insert_before("segments", "lexicon", {word: say})
        return
    if isinstance(lexicon, dict):
        path = ("lexicon",)
    elif isinstance(lexicon, list):
        maps = [n for n, item in enumerate(lexicon) if isinstance(item, dict)]
        holding = [n for n in maps if word in lexicon[n]]
        if holding or (maps and say is not None):
            path = ("lexicon", (holding or maps)[-1])
        elif say is None:
            raise EditRefused(f"{word!r} is not in this episode's own lexicon (it comes from a lexicon file); "
                              "edit it there")
        else:
            doc.append(("lexicon",), {word: say})
            return
    else:  # a lexicon file's path: the entry goes beside it, in a list
        if say is None:
            raise EditRefused(f"{word!r} is not in this episode's own lexicon (it comes from {lexicon}); edit it there")
        doc.set((), "lexicon", [lexicon, {word: say}])
        return
    entries = doc.node(path)
    current = doc.data.get("lexicon") if path == ("lexicon",) else doc.data["lexicon"][path[1]]
    if say is None:
        if word not in current:
            raise EditRefused(f"{word!r} is not in this episode's own lexicon (it may come from its show file); "
                              "edit it there")
        if len(current) == 1:
            if path == ("lexicon",):
                doc.remove((), "lexicon")
            else:
                raise EditRefused(f"{word!r} is the only entry of its lexicon item; edit the list by hand")
            return
        doc.remove(path, word)
    elif isinstance(current.get(word), dict):
        doc.set((*path, word), "say", say)
    elif entries is not None:
        doc.set(path, word, say)


def _chapter(doc: Doc, edit: MoveChapter) -> None:
    segments = _segments(doc)
    source = next((i for i, s in enumerate(segments) if isinstance(s, dict) and s.get("chapter") == edit.title),
                  None)
    if source is None:
        raise EditRefused(f"no segment of this file starts the chapter {edit.title!r}")
    target = segment_index(doc, edit.to_segment_id)
    if target == source:
        return
    there = segments[target].get("chapter") if isinstance(segments[target], dict) else None
    if there is not None:
        raise EditRefused(f"segment {edit.to_segment_id} already starts the chapter {there!r}; move that one first")
    doc.set(("segments", target), "chapter", edit.title)
    doc.remove(("segments", source), "chapter")


def _apply(doc: Doc, edit: Edit) -> None:
    """Change ``doc`` as ``edit`` asks (EditRefused, EditError when it cannot)."""
    if isinstance(edit, SetText):
        if not edit.text.strip():
            raise EditRefused("a line's text cannot be empty")
        path, key = _text_path(doc, edit)
        doc.set(path, key, edit.text, loose=True)
    elif isinstance(edit, SetStyle):
        i, _, _ = _spoken(doc, edit.segment_id)
        if edit.style is None:
            doc.remove(("segments", i), "style")
        else:
            doc.set(("segments", i), "style", edit.style)
    elif isinstance(edit, SetPronunciation):
        _lexicon(doc, edit)
    elif isinstance(edit, MoveChapter):
        _chapter(doc, edit)
    elif isinstance(edit, PickTake):
        i, _, _ = _spoken(doc, edit.segment_id)
        if edit.take is not None and (isinstance(edit.take, bool) or edit.take < 1):
            raise EditRefused(f"take must be a whole number of 1 or more, not {edit.take!r}")
        if edit.take is None:
            doc.remove(("segments", i), "take")
        else:
            doc.set(("segments", i), "take", edit.take)
        if edit.accept is None:
            doc.remove(("segments", i), "accept")
        else:
            doc.set(("segments", i), "accept", edit.accept)
    else:
        raise TypeError(f"not an edit: {edit!r}")


def edited_text(text: str, edit: Edit) -> str:
    """``text`` with ``edit`` applied as a minimal change (not validated). EditRefused when it cannot be."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    crlf = "\r\n" in body and body.count("\r\n") == body.count("\n")  # a Windows file stays one
    if crlf:
        body = body.replace("\r\n", "\n")
    try:
        doc = Doc(body)
        _apply(doc, edit)
    except EditError as exc:
        raise EditRefused(str(exc)) from None
    return bom + (doc.text.replace("\n", "\r\n") if crlf else doc.text)


def _display(path: Path, root: Path) -> str:
    """``path`` as messages name it: relative to the project root, where ``podpipe validate`` runs."""
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return str(path)


def shown_diagnostics(diagnostics, path: Path, root: Path) -> list[str]:
    """Diagnostics of a spec loaded by its absolute ``path``, naming it (and any file beside it) relative to
    ``root`` as ``podpipe validate`` run there would."""
    out = []
    for d in diagnostics:
        file = _display(Path(d.file), root) if os.path.isabs(d.file) else d.file
        out.append(str(replace(d, file=file, message=d.message.replace(os.fspath(path), _display(path, root)))))
    return out


def validate_text(spec_path: Path, data: bytes, *, root: Path, cache_dir: str | Path | None = None,
                  rules: Any = None) -> tuple[str, ...]:
    """Validate ``data`` as the new content of ``spec_path``, as ``podpipe validate`` would (schema and every
    semantic check, show files and lexicon files as they are on disk); messages name ``spec_path`` as
    ``podpipe validate`` run in ``root`` would. Returns the warnings; raises ``EditRefused`` with the
    messages of any error. The text is checked from a temp file beside the spec (same folder, so relative
    paths mean the same), which is removed afterwards."""
    from podpipe.cache import resolve_cache_dir
    from podpipe.files.atomic import written_temp
    from podpipe.spec import load_episodes

    shown = _display(spec_path, root)
    with written_temp(spec_path, data) as tmp:

        def named(message: str) -> str:
            return message.replace(os.fspath(tmp), shown).replace(tmp.name, spec_path.name)

        try:
            loaded = load_episodes([tmp], root=root, cache_root=resolve_cache_dir(cache_dir, cwd=root), rules=rules)
        except SpecError as exc:
            errors = [replace(d, file=named(d.file), message=named(d.message)) for d in exc.diagnostics]
            raise EditRefused("\n".join(map(str, errors))) from None
    return tuple(str(replace(d, file=named(d.file), message=named(d.message))) for d in loaded.warnings)


def apply_edit(spec_path: str | Path, edit: Edit, *, base_sha256: str, rules: Any = None,
               root: str | Path | None = None, cache_dir: str | Path | None = None) -> Saved:
    """Write ``edit`` into the spec at ``spec_path`` as a minimal edit, if the file is still the one whose
    sha256 is ``base_sha256`` (else ``EditConflict``, nothing written) and the result is valid (else
    ``EditRefused`` with the validation message, nothing written). ``rules`` judges models and voices
    (default: ``podpipe.backends``, as ``podpipe validate``); ``root`` is the project root (default: the
    working directory), ``cache_dir`` where a kept voice list is found (as ``--cache-dir``)."""
    if rules is None:
        from podpipe import backends as rules
    path = Path(os.path.abspath(spec_path))
    root = Path(os.path.abspath(root if root is not None else os.getcwd()))
    with _lock_for(path):
        return _apply_edit(path, edit, base_sha256, rules, root, cache_dir)


def _lock_for(path: Path) -> threading.Lock:
    """One edit of a file at a time in this process (the studio's server answers requests on threads)."""
    with _locks_lock:
        return _locks.setdefault(path, threading.Lock())


_locks: dict[Path, threading.Lock] = {}
_locks_lock = threading.Lock()


def _apply_edit(path: Path, edit: Edit, base_sha256: str, rules: Any, root: Path,
                cache_dir: str | Path | None) -> Saved:
    from podpipe.files import write_atomic

    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise EditRefused(f"{_display(path, root)}: no such file") from None
    except UnicodeDecodeError:
        raise EditRefused(f"{_display(path, root)}: not UTF-8 text; podpipe specs are UTF-8") from None
    except OSError as exc:
        raise EditRefused(f"{_display(path, root)}: cannot read the file: {exc.strerror or exc}") from None
    current = sha256_of(raw)
    if current != base_sha256:
        try:
            mine: str | None = edited_text(text, edit)
        except EditRefused:
            mine = None
        raise EditConflict(path, text, mine, current)
    new = edited_text(text, edit)
    data = new.encode("utf-8")
    if new == text:
        return Saved(current, "")
    warnings = validate_text(path, data, root=root, cache_dir=cache_dir, rules=rules)
    now = path.read_bytes()
    if now != raw:  # written by someone else while we validated
        raise EditConflict(path, now.decode("utf-8", errors="replace"), new, sha256_of(now))
    write_atomic(path, data, mode=stat.S_IMODE(os.stat(path).st_mode))
    name = _display(path, root)
    diff = "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"a/{name}", f"b/{name}"))
    return Saved(sha256_of(data), diff, warnings)


__all__ = ["Edit", "EditConflict", "EditRefused", "MoveChapter", "PickTake", "Saved", "SetPronunciation",
           "SetStyle", "SetText", "apply_edit", "edited_text", "segment_index", "sha256_of", "shown_diagnostics",
           "validate_text"]
