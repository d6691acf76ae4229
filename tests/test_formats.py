"""The ground-floor table of output formats and sidecars (``podpipe.formats``): held to the schema, and the
one place the layers above take these facts from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from podpipe.errors import UsageError
from podpipe.formats import FORMATS, SIDECARS, format_of, output_format, sidecar_of
from podpipe.spec import load_schema

REPO = Path(__file__).resolve().parents[1]


def _output_schema() -> dict:
    return load_schema()["$defs"]["output"]["properties"]


def test_defaults_and_codec_rates_are_values_the_schema_accepts():
    rates = set(_output_schema()["sample_rate"]["enum"])
    kbps = _output_schema()["bitrate"]
    for fmt in FORMATS.values():
        assert fmt.rate is None or fmt.rate in rates, fmt.name
        assert fmt.rates is None or set(fmt.rates) <= rates, fmt.name
        assert fmt.rates is None or fmt.rate in fmt.rates, f"{fmt.name}: its default rate is one it cannot run at"
        assert fmt.kbps is None or kbps["minimum"] <= fmt.kbps <= kbps["maximum"], fmt.name
        assert fmt.mime.startswith("audio/") and fmt.codec and fmt.muxer


def test_a_file_name_names_its_format_in_any_case():
    assert format_of("build/ep.MP3") is FORMATS["mp3"]
    assert format_of(Path("x.ogg")).suffix == ".ogg"
    assert format_of("ep.aiff") is None and format_of("ep") is None
    with pytest.raises(UsageError, match="output.format 'aiff' is not supported; choose one of wav, mp3"):
        output_format("aiff", "ep.yaml")


def test_each_sidecar_is_found_by_its_own_name_only():
    out = Path("build/ep.mp3")
    for sidecar in SIDECARS.values():
        assert sidecar_of(sidecar.path(out)) is sidecar
        assert sidecar.path(out).parent == out.parent
    assert SIDECARS["chapters"].path(out).name == "ep.chapters.json"
    assert sidecar_of("ep.json") is None and sidecar_of(".vtt") is None and sidecar_of("ep.mp3") is None
    published = {s.name for s in SIDECARS.values() if s.role is not None}
    assert published == {s.name for s in SIDECARS.values() if s.feed_type} == {"vtt", "srt", "chapters"}
    # the manifest is podpipe's own record: never published, never in a feed


def test_every_published_sidecar_has_a_role_publish_knows():
    from podpipe.feed import ROLES
    from podpipe.publish import CACHE_CONTROL

    for sidecar in SIDECARS.values():
        assert sidecar.role is None or (sidecar.role in ROLES and sidecar.role in CACHE_CONTROL), sidecar.name


def test_the_table_imports_nothing_above_the_ground_floor():
    code = "import sys, podpipe.formats; print(sorted(m for m in sys.modules if m.startswith('podpipe')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['podpipe', 'podpipe.errors', 'podpipe.formats']"
