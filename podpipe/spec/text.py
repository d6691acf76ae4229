"""What a line's text means to a voice: inline vocal tags and the pronunciation lexicon. Pure functions.

Vocal tags (``docs/spec.md`` has the user's version of these rules):

- A tag is a bracketed cue of 1-40 characters that starts and ends with a letter and otherwise holds only
  letters, spaces, hyphens and apostrophes: ``[laughs]``, ``<sigh>``, ``<short pause>``. Square and angle
  brackets mean the same; the pair must match (``[laughs>`` is no tag).
- A backslash makes the next ``[ ] < >`` or ``\\`` literal: ``\\[sic\\]`` is text, not a tag. Other brackets
  that do not form a tag (``[1]``, ``a < b``) are text as written.
- Speech gets each tag in the form the model reads (``TAGS_ANGLE`` / ``TAGS_SQUARE``) or, for a voice that
  reads no tags (the offline one), nothing. A literal bracket of the kind the model reads as a tag cannot be
  sent safely (the wire has no escape), so it is left out of the speech; brackets are not read aloud anyway.
- Transcripts get every tag as ``[cue]`` (the captioning convention for sounds) and literals as written.

Lexicon: whole-word replacements (written form → spoken form) applied to the text of speech only, outside
tags; transcripts, chapters and manifests keep the written form. Longer entries win where two could match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# The forms a voice may read tags in (``compile.Target.tags``; each backend says which its models read).
TAGS_ANGLE = "angle"  # <laughs>
TAGS_SQUARE = "square"  # [laughs]

_NAME = r"[A-Za-z](?:[A-Za-z' -]{0,38}[A-Za-z])?"
_TOKEN = re.compile(rf"\\([\[\]<>\\])|\[({_NAME})\]|<({_NAME})>")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?…])")
_SPACES = re.compile(r"\s{2,}")
_LITERAL_FOR = {TAGS_ANGLE: "<>", TAGS_SQUARE: "[]"}


@dataclass(frozen=True)
class Tag:
    name: str


def tokens(text: str) -> Iterator[str | Tag]:
    """The text as plain runs (escapes resolved, one literal character per escape) and tags, in order."""
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            yield text[pos:m.start()]
        if m.group(1):
            yield _Literal(m.group(1))
        else:
            yield Tag(m.group(2) or m.group(3))
        pos = m.end()
    if pos < len(text):
        yield text[pos:]


class _Literal(str):
    """A character the author escaped: text, never part of a tag."""


def tags(text: str) -> list[str]:
    """The names of the tags in ``text``, in order."""
    return [t.name for t in tokens(text) if isinstance(t, Tag)]


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", _SPACE_BEFORE_PUNCT.sub(r"\1", text)).strip()


def spoken(text: str, form: str | None, lexicon: Lexicon | None = None) -> str:
    """What a voice receives: tags in ``form`` (None: no tags at all), the lexicon applied to plain text.

    Text without tags, escapes or lexicon words comes back unchanged (so its cache key stays the same).
    """
    out: list[str] = []
    run: list[str] = []  # plain text since the last tag; the lexicon sees it whole, so words stay whole
    dropped = False

    def flush() -> None:
        plain = "".join(run)
        out.append(lexicon.apply(plain) if lexicon else plain)
        run.clear()

    for token in tokens(text):
        if isinstance(token, Tag):
            flush()
            if form == TAGS_ANGLE:
                out.append(f"<{token.name}>")
            elif form == TAGS_SQUARE:
                out.append(f"[{token.name}]")
            else:
                dropped = True
        elif isinstance(token, _Literal) and token in _LITERAL_FOR.get(form or "", ""):
            dropped = True  # the model would read it as (part of) a tag
        else:
            run.append(str(token))
    flush()
    result = "".join(out)
    return _tidy(result) if dropped else result


def written(text: str) -> str:
    """What transcripts, chapters and manifests show: every tag as ``[cue]``, escapes resolved."""
    return "".join(f"[{t.name}]" if isinstance(t, Tag) else str(t) for t in tokens(text))


# ---------------------------------------------------------------------------------------------- lexicon

@dataclass(frozen=True)
class LexiconEntry:
    written: str  # as it appears in the text (whole words)
    say: str  # what the voice gets instead
    ignore_case: bool = False


def _pattern(entry: LexiconEntry) -> str:
    body = re.escape(entry.written)
    return rf"(?<!\w)(?i:{body})(?!\w)" if entry.ignore_case else rf"(?<!\w){body}(?!\w)"


class Lexicon:
    """Entries compiled into one alternation, longest first, so "New York" wins over "York"."""

    def __init__(self, entries: Iterable[LexiconEntry]):
        self.entries = tuple(sorted(entries, key=lambda e: -len(e.written)))
        self._regex = (re.compile("|".join(f"({_pattern(e)})" for e in self.entries))
                       if self.entries else None)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def apply(self, text: str) -> str:
        if self._regex is None:
            return text
        return self._regex.sub(lambda m: self.entries[m.lastindex - 1].say, text)

    def used(self, texts: Iterable[str]) -> set[LexiconEntry]:
        """The entries that match somewhere in ``texts`` (outside tags)."""
        found: set[LexiconEntry] = set()
        if self._regex is None:
            return found
        for text in texts:
            for token in tokens(text):
                if not isinstance(token, Tag):
                    found.update(self.entries[m.lastindex - 1] for m in self._regex.finditer(token))
        return found


_WORD_START = re.compile(r"(?<!\w)(?=\w)|(?<=\s)(?=\S)")


def overlaps(entries: Iterable[LexiconEntry]) -> list[tuple[LexiconEntry, LexiconEntry]]:
    """Pairs (a, b) where some text could be read two ways: ``a`` matches inside a text ``b`` matches, or
    the end of ``a`` is the start of ``b`` ("New York" and "York City" in "New York City")."""
    entries = list(entries)
    compiled = [(e, re.compile(_pattern(e)), re.compile(_pattern(e), re.IGNORECASE)) for e in entries]
    found = []
    for a, exact, anycase in compiled:
        for b in entries:
            if a is b:
                continue
            # b matching any letter case means a may meet b's words in any case too
            if (anycase if b.ignore_case else exact).search(b.written):
                found.append((a, b))
            elif _chained(a, b):
                found.append((a, b))
    return found


def _chained(a: LexiconEntry, b: LexiconEntry) -> bool:
    fold = a.ignore_case or b.ignore_case
    first, second = (a.written.casefold(), b.written.casefold()) if fold else (a.written, b.written)
    for m in _WORD_START.finditer(first, 1):
        tail = first[m.start():]
        if second.startswith(tail) and len(second) > len(tail) and not second[len(tail)].isalnum():
            return True
    return False
