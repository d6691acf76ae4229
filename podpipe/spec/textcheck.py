"""Warnings about what a line says, located at the line: vocal tags the model is not documented to read
(with "did you mean", and delivery such as whispering sent to ``style:``), and a line whose script does
not match the spec's ``language:``. Warnings, never errors: the model's tag list is "these and more", and
a name or a quotation in another script is normal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podpipe.spec.messages import suggest
from podpipe.spec.rules import Judge
from podpipe.spec.schema import segment_fields, segment_kind
from podpipe.spec.scripts import dominant_script, expected_script, script_fits
from podpipe.spec.text import Tag, tokens
from podpipe.spec.view import View
from podpipe.spec.yamldoc import DocPath

# Sustained delivery is a style, not a tag (a model reads a tag as one sound, or aloud).
DELIVERY = frozenset({"whisper", "whispers", "whispering", "whispered", "shout", "shouts", "shouting", "yell",
                      "yelling", "sarcastic", "sarcastically", "excited", "excitedly", "sad", "sadly", "angry",
                      "angrily", "happy", "happily", "calm", "calmly", "nervous", "nervously", "slowly",
                      "quickly", "softly", "loudly", "cheerful", "cheerfully", "serious", "seriously"})


def _texts(segments: list) -> Iterator[tuple[DocPath, str]]:
    """Every spoken text of the episode with its document path."""
    fields = segment_fields()
    for i, seg in enumerate(segments):
        if not isinstance(seg, dict):
            continue
        kind = segment_kind(seg)
        if kind == "line" and isinstance(seg.get("text"), str):
            yield ("segments", i, "text"), seg["text"]
        elif kind == "dialogue" and isinstance(seg.get("dialogue"), list):
            for j, turn in enumerate(seg["dialogue"]):
                if isinstance(turn, dict):
                    for sid, text in turn.items():
                        if isinstance(text, str):
                            yield ("segments", i, "dialogue", j, sid), text
        elif kind not in ("pause", "sound"):
            for key, text in seg.items():
                if key not in fields and isinstance(text, str):
                    yield ("segments", i, key), text


def check_texts(view: View, segments: list, judge: Judge | None, model: str) -> None:
    """Unknown vocal tags (for a model with a documented list) and lines in another script than
    ``language:``, each warned about at its line."""
    names = judge.tag_names(model) if judge is not None else None
    language: Any = view.data.get("language")
    for path, text in _texts(segments):
        if names is not None:
            for token in tokens(text):
                if isinstance(token, Tag) and token.name.lower() not in names:
                    view.warn(path, _tag_problem(token.name, names, model))
        if isinstance(language, str) and language.strip():
            plain = "".join(t for t in tokens(text) if not isinstance(t, Tag))
            script = dominant_script(plain)
            if script is not None and not script_fits(script, language):
                shown = "Chinese/Japanese characters" if script == "han" else f"{script.capitalize()} script"
                view.warn(path, f"this line is written in {shown} but `language: {language}` expects "
                                f"{expected_script(language)}: fix language: or the line (the voice reads it "
                                "as the language says)")


def _tag_problem(name: str, names: frozenset[str], model: str) -> str:
    if name.lower() in DELIVERY:
        return (f"[{name}] is a delivery, not a sound: put it in the segment's `style:` (e.g. style: "
                f"{name.lower()}), which {model} applies to the whole line")
    near = suggest(name.lower(), sorted(names))
    hint = f"did you mean [{near}]?" if near else f"documented tags: {', '.join(sorted(names))}"
    return (f"unknown vocal tag [{name}] for {model} (it is sent as written and may be read aloud); {hint}; "
            "delivery such as whispering belongs in `style:`")
