"""Ctrl-C during a build: exit 130, a clear message, and every render that finished stays cached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.support.standin import StandIn

SPEC = "title: Interrupted\nspeakers:\n  host: {voice: Kore, name: Alex}\noutput: {format: wav}\nsegments:\n" + \
    "".join(f"  - host: Sentence number {i} of a long episode.\n" for i in range(12))


def test_sigint_exits_130_and_keeps_finished_renders(tmp_path):
    (tmp_path / "ep.yaml").write_text(SPEC)
    with StandIn(latency=0.4) as server:
        env = {k: v for k, v in os.environ.items() if k != "GOOGLE_API_KEY"}
        env.update(GOOGLE_GEMINI_BASE_URL=server.url, GEMINI_API_KEY=server.api_key, PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "podpipe", "build", "--rpm", "0", "-j", "2", "ep.yaml"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 30
        cache = tmp_path / ".podpipe-cache"
        while time.monotonic() < deadline and len(list(cache.rglob("*.json"))) < 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, (out, err)
        assert "interrupted" in err and "cached" in err
        assert "Traceback" not in err
        done = len(list(cache.rglob("*.json")))
        assert 2 <= done < 12
        assert not (tmp_path / "build" / "ep.wav").exists()

        sent_before = len(server.generate_requests())
        rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        assert f"{12 - done} segments rendered, {done} cached" in rerun.stdout
        assert len(server.generate_requests()) - sent_before == 12 - done
    assert (tmp_path / "build" / "ep.wav").exists()
