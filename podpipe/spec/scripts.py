"""Writing systems: where sentences and clauses end in each script, and which script a line is written in
(for ``validate``'s warning when it does not match the spec's ``language:``). Pure; no vendor facts.

Sentence ends: Latin and most scripts ``. ! ? …`` followed by a space; CJK ``。！？`` (no space follows);
Devanagari ``।`` ``॥``; Arabic and Urdu ``؟`` ``۔``; Ethiopic ``።``; Armenian ``։``; Myanmar ``။``. Thai and
Lao have no sentence punctuation: their spaces separate phrases, so a long Thai line is cut at spaces.
Clause marks, where a sentence too long for one request is cut: ``，、；：,;:—`` and Arabic ``،`` ``؛``.
"""

from __future__ import annotations

import re
import unicodedata

# A Latin-style end (". ", "! ", closing quotes/brackets allowed before the space) or an end mark of a
# script that needs no space after it. The Latin branch is the splitter's original rule: English splits as
# it always has (cache keys of English specs do not move).
SENTENCE_END = re.compile(r"(?P<latin>(?<=[.!?…])[\"')\]]*\s+)|(?<=[。！？।॥؟۔።։။])[」』”’）)\]]*\s*")
CLAUSE_MARKS = "，、；：,;:—،؛"

# script -> the primary language subtags written in it (languages not listed are written in Latin script)
_SCRIPT_LANGUAGES: dict[str, frozenset[str]] = {
    "han": frozenset({"zh", "yue", "ja"}),
    "kana": frozenset({"ja"}),
    "hangul": frozenset({"ko"}),
    "devanagari": frozenset({"hi", "mr", "ne", "sa"}),
    "arabic": frozenset({"ar", "ur", "fa", "ps", "sd"}),
    "thai": frozenset({"th"}),
    "cyrillic": frozenset({"ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "mn"}),
    "greek": frozenset({"el"}),
    "hebrew": frozenset({"he", "yi"}),
    "bengali": frozenset({"bn", "as"}),
    "tamil": frozenset({"ta"}),
    "telugu": frozenset({"te"}),
    "georgian": frozenset({"ka"}),
    "armenian": frozenset({"hy"}),
}
_NAME_PREFIX = {"CJK": "han", "HIRAGANA": "kana", "KATAKANA": "kana", "HANGUL": "hangul",
                "DEVANAGARI": "devanagari", "ARABIC": "arabic", "THAI": "thai", "CYRILLIC": "cyrillic",
                "GREEK": "greek", "HEBREW": "hebrew", "BENGALI": "bengali", "TAMIL": "tamil", "TELUGU": "telugu",
                "GEORGIAN": "georgian", "ARMENIAN": "armenian", "LATIN": "latin"}
_NON_LATIN = frozenset(lang for langs in _SCRIPT_LANGUAGES.values() for lang in langs)


def script_of(ch: str) -> str | None:
    """The script of one letter ("latin", "han", ...), None for anything that is not a letter."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return _NAME_PREFIX.get(name.split(" ")[0], "other")


def dominant_script(text: str) -> str | None:
    """The script most of the letters of ``text`` are written in (None: fewer than 4 letters)."""
    counts: dict[str, int] = {}
    for ch in text:
        script = script_of(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    if sum(counts.values()) < 4:
        return None
    return max(counts, key=counts.__getitem__)


def script_fits(script: str, language: str) -> bool:
    """Whether a line mostly in ``script`` may be spoken as ``language`` (a BCP-47 code such as ``zh-CN``)."""
    primary = language.split("-")[0].split("_")[0].lower()
    if script == "latin":
        # romanized text is common in every language (names, brands): only a Latin-only language is sure
        return primary not in _NON_LATIN
    if script == "other":
        return True  # a script this table does not know: no opinion
    return primary in _SCRIPT_LANGUAGES.get(script, frozenset())


def expected_script(language: str) -> str:
    """The script ``language`` is usually written in, for messages."""
    primary = language.split("-")[0].split("_")[0].lower()
    for script, langs in _SCRIPT_LANGUAGES.items():
        if primary in langs:
            return "Chinese characters" if script == "han" else script.capitalize()
    return "Latin"
