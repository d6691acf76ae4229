"""validate's warnings about what a line says: vocal tags the model is not documented to read (with "did you
mean", and delivery sent to style:), and lines in another script than the spec's language:."""

from __future__ import annotations

import pytest

from podpipe import backends
from podpipe.spec import load_episodes

SPEC = """\
title: Tags
model: {model}
{language}speakers:
  host: {{voice: Kore}}
segments:
  - host: "That was funny <laughz> really."
  - host: "Sit down [whispering] and listen."
  - dialogue:
      - host: "Fine <sigh> and <short pause> done."
      - host: "Wow <giggle>!"
"""


def _warnings(tmp_path, model="gemini-3.8-flash-tts", language="", text=SPEC):
    path = tmp_path / "ep.yaml"
    path.write_text(text.format(model=model, language=language), encoding="utf-8")
    result = load_episodes([path], root=tmp_path, rules=backends)
    return list(result.warnings)


def test_unknown_tags_warn_at_the_line_with_did_you_mean(tmp_path):
    warnings = _warnings(tmp_path)
    shown = [str(w) for w in warnings]
    assert len(warnings) == 3, shown
    laughz, whisper, giggle = warnings
    assert (laughz.line, laughz.field) == (6, "segments[0].host")
    assert "unknown vocal tag [laughz] for gemini-3.8-flash-tts" in laughz.message
    assert "did you mean [laugh" in laughz.message and "style:" in laughz.message
    assert whisper.line == 7 and "[whispering] is a delivery, not a sound: put it in the segment's `style:`" \
        in whisper.message
    assert (giggle.line, giggle.field) == (10, "segments[2].dialogue[1].host")
    assert all(w.severity == "warning" and w.column > 1 for w in warnings)


def test_documented_tags_and_models_without_a_list_do_not_warn(tmp_path):
    assert _warnings(tmp_path, model="gemini-2.5-flash-preview-tts") == []  # no published list
    clean = SPEC.replace("<laughz>", "<laugh>").replace(" [whispering]", "").replace("<giggle>", "<gasp>")
    assert _warnings(tmp_path, text=clean) == []


@pytest.mark.parametrize("language,warned", [("zh-CN", True), ("en-US", False), ("de-DE", False)])
def test_a_line_in_another_script_than_the_language_warns(tmp_path, language, warned):
    text = SPEC.replace("<laughz>", "<laugh>").replace(" [whispering]", "").replace("<giggle>", "<gasp>")
    warnings = _warnings(tmp_path, language=f"language: {language}\n", text=text)
    assert bool(warnings) is warned
    if warned:
        assert len(warnings) == 3 and "written in Latin script but `language: zh-CN` expects Chinese " \
            "characters" in warnings[0].message


def test_chinese_lines_under_a_chinese_language_do_not_warn(tmp_path):
    text = """\
title: 面包
language: zh-CN
speakers:
  host: {{voice: Kore}}
segments:
  - host: 欢迎收听今天的节目。我们聊聊 Podpipe 和面包。
  - host: 谢谢！
"""
    assert _warnings(tmp_path, text=text) == []
    assert "expects Latin" in _warnings(tmp_path, text=text.replace("zh-CN", "en-US"))[0].message
