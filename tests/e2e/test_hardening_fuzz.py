"""Property-based fuzzing of the spec loader and validator: any input ends in a located SpecError, never a crash.

Every generated file goes through ``load_episodes`` (what ``validate`` and ``build`` run first): the only
acceptable outcomes are a valid result or ``SpecError`` whose every diagnostic names the file, and a
located one (line > 0) whenever the problem is inside the document. Time per case is bounded by hypothesis
deadlines; memory of the nastiest cases (alias bombs, deep nesting, huge scalars) by tracemalloc. A sample
of cases also runs through the CLI: exit 2, no traceback.
"""

from __future__ import annotations

import json
import string
import tracemalloc
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podpipe import backends
from podpipe.cli import cli
from podpipe.errors import SpecError
from podpipe.spec import load_episodes
from tests.support.hardening import SPEC_A, record_figure

FUZZ = settings(max_examples=120, deadline=2000, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
#: problems about the file as a whole have no line; anything inside the document must have one
_WHOLE_FILE = ("no such file", "is a directory", "cannot read", "invalid UTF-8", "the file is empty",
               "expands to more than", "nested too deeply", "invalid YAML")


def check(path: Path, root: Path) -> SpecError | None:
    """Load ``path``; only a valid result or a located SpecError is acceptable."""
    record_figure("spec_cases_fuzzed", 1)
    try:
        load_episodes([path], root=root, rules=backends)
    except SpecError as exc:
        assert exc.diagnostics, "SpecError without a diagnostic"
        for d in exc.diagnostics:
            # a problem inside a show file it extends names that file
            assert d.file and (Path(d.file).name == path.name or "extends" in path.read_text("utf-8", "replace")), d
            assert d.message.strip(), d
            assert d.line > 0 or d.message.startswith(_WHOLE_FILE) or d.field == "" or "extends" in d.field, d
            assert "Traceback" not in d.message
        return exc
    return None


def _write(tmp_path: Path, data: bytes, name: str = "ep.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- strategies -----------------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.text(alphabet=string.ascii_letters + " .:-#&*!|>'\"{}[],%@`", max_size=30),
    st.sampled_from(["Zephyr", "Puck", "host", "guest", "gemini-3.8-flash-tts", "wav", "mp3", "../x.wav",
                     "/etc/passwd", "~", "yes", "no", "1e400", "-.inf", ".nan", "0x1F", "2001-12-14"]),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(
        ["title", "speakers", "segments", "output", "voice", "text", "dialogue", "pause", "sound", "speaker",
         "style", "take", "temperature", "extends", "path", "format", "gap", "chapter", "model"])), inner,
        max_size=5)), max_leaves=25)


def _mutate(doc, path_choices, value):
    """Replace one value somewhere in ``doc`` (chosen by ``path_choices``) with ``value``."""
    node = doc
    for choice in path_choices:
        if isinstance(node, dict) and node:
            key = sorted(node, key=str)[choice % len(node)]
            if not isinstance(node[key], (dict, list)) or choice % 3 == 0:
                node[key] = value
                return doc
            node = node[key]
        elif isinstance(node, list) and node:
            i = choice % len(node)
            if not isinstance(node[i], (dict, list)) or choice % 3 == 0:
                node[i] = value
                return doc
            node = node[i]
        else:
            break
    if isinstance(node, dict):
        node["title" if not node else sorted(node, key=str)[0]] = value
    elif isinstance(node, list):
        node.append(value)
    return doc


# -- properties -----------------------------------------------------------------------------------------------


@FUZZ
@given(data=_values, as_json=st.booleans())
def test_random_structures(tmp_path, data, as_json):
    text = json.dumps(data) if as_json else yaml.safe_dump(data, allow_unicode=True)
    check(_write(tmp_path, text.encode("utf-8")), tmp_path)


@FUZZ
@given(choices=st.lists(st.integers(0, 50), min_size=1, max_size=6), value=_values)
def test_valid_spec_with_one_value_replaced(tmp_path, choices, value):
    """Wrong types everywhere: one field (at any depth) of a real spec replaced by anything."""
    doc = _mutate(yaml.safe_load(SPEC_A), choices, value)
    check(_write(tmp_path, yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")), tmp_path)


@FUZZ
@given(data=st.binary(max_size=400), bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_binary_garbage_and_boms(tmp_path, data, bom):
    check(_write(tmp_path, bom + data), tmp_path)


@FUZZ
@given(cut=st.integers(0, len(SPEC_A)), junk=st.text(max_size=8))
def test_truncated_and_spliced_specs(tmp_path, cut, junk):
    """A spec cut off or with junk spliced in at any byte: an interrupted editor save, a bad merge."""
    check(_write(tmp_path, (SPEC_A[:cut] + junk + SPEC_A[cut:cut + 40]).encode("utf-8")), tmp_path)


@FUZZ
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_random_unicode_text(tmp_path, text):
    check(_write(tmp_path, text.encode("utf-8")), tmp_path)


# -- the nasty fixed cases, with time and memory bounds ----------------------------------------------------------

def _billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    return "\n".join(lines) + "\ntitle: bomb\nspeakers: {h: {voice: Zephyr}}\nsegments: *a9\n"


NASTY = {
    "billion-laughs": _billion_laughs(),
    "alias-bomb-in-mapping": "x: &x {a: 1, b: 2}\n" + "".join(
        f"y{i}: &y{i} {{p: *{'x' if i == 0 else f'y{i - 1}'}, q: *{'x' if i == 0 else f'y{i - 1}'}}}\n"
        for i in range(40)) + "title: t\n",
    "recursive-alias": "a: &a [*a]\ntitle: t\n",
    "recursive-merge": "a: &a {<<: *a}\n",
    "deep-flow-nesting": "title: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-block-nesting": "".join("  " * i + f"k{i}:\n" for i in range(2000)) + "  " * 2000 + "v\n",
    "python-object-tag": "title: !!python/object/apply:os.system ['echo pwned']\nspeakers: {}\nsegments: []\n",
    "python-name-tag": "title: !!python/name:os.system\n",
    "custom-tag": "title: !custom x\n",
    "binary-tag": "title: !!binary aGVsbG8=\n",
    "set-tag": "speakers: !!set {a, b}\n",
    "duplicate-keys": "title: one\ntitle: two\nspeakers:\n  h: {voice: Zephyr}\n  h: {voice: Puck}\n"
                      "segments:\n  - h: hi\n",
    "huge-int": "title: t\nepisode: " + "9" * 100_000 + "\n",
    "huge-float": "title: t\ntemperature: 1e99999\n",
    "nan": "title: t\ntemperature: .nan\n",
    "huge-string": "title: " + "x" * 5_000_000 + "\nspeakers: {h: {voice: Zephyr}}\nsegments: [h: hi]\n",
    "many-segments": "title: t\nspeakers: {h: {voice: Zephyr}}\nsegments:\n" + "  - h: hi\n" * 5_000,
    "multi-document": "title: a\n---\ntitle: b\n",
    "nul-bytes": "title: a\x00b\n",
    "tabs": "title:\tt\n\tspeakers: {}\n",
    "only-comment": "# nothing\n",
    "empty": "",
    "top-level-list": "- a\n- b\n",
    "top-level-scalar": "42\n",
    "extends-escape": "extends: ../../../../etc/hostname\ntitle: t\n",
    "extends-self": "extends: ep.yaml\ntitle: t\n",
    "extends-directory": "extends: .\ntitle: t\n",
    "sound-escape": "title: t\nspeakers: {h: {voice: Zephyr}}\nsegments:\n  - sound: /etc/passwd\n",
    "output-escape": "title: t\nspeakers: {h: {voice: Zephyr}}\nsegments: [h: hi]\noutput: {path: ../../x.wav}\n",
    "unicode-keys": "títle: t\n\u202espeakers: {}\n",
}


#: legal specs that are merely big; the size limit that refuses the absurd ones is tested below
_VALID_BUT_BIG = {"huge-string", "many-segments"}


def _check_measuring_memory(path, root):
    """``check`` plus the peak Python memory it took, so unbounded growth fails the test."""
    tracemalloc.start()
    try:
        exc = check(path, root)
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_cases_are_located_spec_errors_within_bounds(tmp_path, name):
    path = _write(tmp_path, NASTY[name].encode("utf-8"))
    exc, peak = _check_measuring_memory(path, tmp_path)
    if name in _VALID_BUT_BIG:
        assert exc is None or exc.diagnostics  # big but legal: accepted, within the bounds below
    else:
        assert exc is not None, f"{name} was accepted"
    # A 5 MB scalar is held a few times over (bytes, text, node); nothing may grow without bound.
    assert peak < 200 * 2**20, f"{name}: peak {peak / 2**20:.0f} MiB"
    if "tag" in name and name != "binary-tag":
        assert any("not allowed" in d.message for d in exc.diagnostics), exc
    if name == "duplicate-keys":
        assert any("title" in d.field or "title" in d.message for d in exc.diagnostics), exc


@pytest.mark.parametrize("name", ["billion-laughs", "python-object-tag", "deep-flow-nesting", "duplicate-keys"])
def test_cli_exit_2_without_traceback(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, NASTY[name].encode("utf-8"))
    for command in (["validate", "ep.yaml"], ["build", "--backend", "espeak", "ep.yaml"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "ep.yaml:" in result.output
    assert not (tmp_path / "build").exists() and not (tmp_path / ".podpipe-cache").exists()


def test_oversized_spec_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "ep.yaml"
    with open(path, "wb") as f:
        f.write(b"title: t\ndescription: ")
        f.truncate(64 * 2**20)  # sparse: 64 MB of NULs after the header
    exc, peak = _check_measuring_memory(path, tmp_path)
    assert exc is not None and any("too large" in d.message or "larger than" in d.message
                                   for d in exc.diagnostics), exc
    assert peak < 16 * 2**20


def test_extends_cannot_leave_the_project_root(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "secret.yaml").write_text("title: s3cr3t-value\nspeakers: {h: {voice: Zephyr}}\n")
    path = _write(project, b"extends: ../secret.yaml\nsegments: [h: hi]\n")
    exc = check(path, project)
    assert exc is not None and any("extends" in d.field and "project" in d.message for d in exc.diagnostics)


def test_symlinked_sound_out_of_the_project_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.wav").write_bytes(b"RIFF")
    project = tmp_path / "p"
    (project / "assets").mkdir(parents=True)
    (project / "assets" / "link.wav").symlink_to(outside / "x.wav")
    path = _write(project, b"title: t\nspeakers: {h: {voice: Zephyr}}\nsegments:\n  - h: hi\n"
                           b"  - sound: assets/link.wav\n")
    exc = check(path, project)
    assert exc is not None and any(d.field == "segments[1].sound" and "outside the project" in d.message
                                   for d in exc.diagnostics), exc


def test_symlinked_build_dir_out_of_the_project_is_refused_naming_the_path(tmp_path):
    (tmp_path / "outside").mkdir()
    project = tmp_path / "p"
    project.mkdir()
    (project / "build").symlink_to(tmp_path / "outside")
    path = _write(project, b"title: t\nspeakers: {h: {voice: Zephyr}}\nsegments:\n  - h: hi\n")
    exc = check(path, project)
    assert exc is not None
    assert any("outside the project" in d.message and "None" not in d.message and "build" in d.message
               for d in exc.diagnostics), exc
