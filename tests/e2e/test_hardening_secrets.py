"""A canary API key in the environment never reaches a file, a log line, an error or a --debug traceback.

Real processes (so what reaches stderr is exactly what a CI log would show, tracebacks included) against a
stand-in that answers with the canary key and that echoes it back in an error body, as some proxies do.
The key is also looked for in every file under the project (cache records, outputs, manifests, reports)
in plain text and in the encodings a leak could take (JSON-escaped, base64, URL-encoded, UTF-16).
"""

from __future__ import annotations

import base64
import json
import urllib.parse

from click.testing import CliRunner

from podpipe.cli import cli
from tests.support.hardening import child_env, run_podpipe, write_specs
from tests.support.standin import StandIn

CANARY = "AIza" "SyCANARY-hardening-never-write-0123"  # split: a key-shaped literal trips secret scanners


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, json.dumps(secret).encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw),
            urllib.parse.quote(secret).encode(), secret.encode("utf-16-le"), secret[::-1].encode()]


def _assert_nowhere(project, texts) -> int:
    forms = _forms(CANARY)
    files = [p for p in project.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form not in data, f"{form!r} in {path}"
    for text in texts:
        for form in forms:
            assert form.decode("latin-1") not in text, text[-2000:]
    return len(files)


def test_canary_survives_debug_tracebacks_failures_and_reports(tmp_path, monkeypatch):
    specs = write_specs(tmp_path)
    texts = []
    with StandIn(api_key=CANARY) as server:
        env = child_env(server)
        env["GEMINI_API_KEY"] = CANARY
        server.script(["429", "500"])
        ok = run_podpipe(tmp_path, "--debug", "build", "--rpm", "0", "-v", "--report", "build/report.json", *specs,
                         env=env)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        texts += [ok.stdout, ok.stderr]
        # every later request gets the key echoed back in a 400: the error path under --debug
        server.fault_fn = lambda rec: "echo-key"
        (tmp_path / "a.yaml").write_text((tmp_path / "a.yaml").read_text().replace("today", "tonight"))
        failed = run_podpipe(tmp_path, "--debug", "build", "--rpm", "0", "--retries", "1", "--report",
                             "build/failed.json", *specs, env=env)
        assert failed.returncode == 1 and "Traceback" in failed.stderr, failed.stdout + failed.stderr
        texts += [failed.stdout, failed.stderr]
        debug_tb = run_podpipe(tmp_path, "say", "Hello there.", "-v", "Kore", "-o", "say.wav",
                               env=dict(env, PODPIPE_DEBUG="1"))
        assert debug_tb.returncode != 0
        assert "Traceback" in debug_tb.stderr  # debug shows the traceback: it just has no key in it
        texts += [debug_tb.stdout, debug_tb.stderr]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEMINI_API_KEY", CANARY)
    for command in (["plan", "--json", *specs], ["cache", "info"], ["cache", "verify"]):
        texts.append(CliRunner().invoke(cli, command).output)
    assert any(p.suffix == ".json" for p in (tmp_path / ".podpipe-cache").rglob("*.json"))
    assert (tmp_path / "build" / "report.json").exists() and (tmp_path / "build" / "failed.json").exists()
    assert _assert_nowhere(tmp_path, texts) > 10


def test_canary_in_google_api_key_under_debug(tmp_path):
    with StandIn(api_key=CANARY) as server:
        env = child_env(server)
        del env["GEMINI_API_KEY"]
        env["GOOGLE_API_KEY"] = CANARY
        server.fault_fn = lambda rec: "echo-key"
        result = run_podpipe(tmp_path, "--debug", "say", "Hello there.", "-v", "Kore", "-o", "say.wav", env=env)
    assert result.returncode == 1 and "Traceback" in result.stderr and "GOOGLE_API_KEY" in result.stderr
    _assert_nowhere(tmp_path, [result.stdout, result.stderr])


def test_cache_metadata_drops_values_containing_the_key(tmp_path, monkeypatch):
    """Even a caller that puts the key (or text containing it) into metadata cannot get it on disk."""
    from podpipe.audio_types import Audio
    from podpipe.cache import FileStore

    monkeypatch.setenv("GEMINI_API_KEY", CANARY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-" + CANARY[::-1])
    store = FileStore(tmp_path)
    key = "cd" * 32
    store.put(key, Audio(b"\x01\x00" * 100, 24000), {
        "request": {"text": "hello", "note": f"url?key={CANARY}", "nested": [{"Authorization": "x"}]},
        "error": f"400 API key {CANARY} invalid", "api_key": "whatever", "usage": {"prompt_tokens": 3},
        "other": "tok-" + CANARY[::-1]})
    meta = store.meta(key)
    assert meta["request"] == {"text": "hello", "nested": [{}]} and meta["usage"] == {"prompt_tokens": 3}
    assert "error" not in meta and "api_key" not in meta and "other" not in meta
    _assert_nowhere(tmp_path, [])
