"""Ctrl-C during a build: exit 130, a clear message, and every render that finished stays cached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.support.standin import StandIn

SPEC = "title: Interrupted\nspeakers:\n  host: {voice: Kore, name: Alex}\noutput: {format: wav}\nsegments:\n" + \
    "".join(f"  - host: Sentence number {i} of a long episode.\n" for i in range(12))


def test_sigint_exits_130_and_keeps_finished_renders(tmp_path):
    (tmp_path / "ep.yaml").write_text(SPEC)
    with StandIn() as server:
        # Two renders are answered; the stand-in holds every later answer, so the build cannot finish before
        # the signal, however busy the machine: the test waits on that event, not on time.
        server.hold(after=2)
        env = {k: v for k, v in os.environ.items() if k != "GOOGLE_API_KEY"}
        env.update(GOOGLE_GEMINI_BASE_URL=server.url, GEMINI_API_KEY=server.api_key, PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "podpipe", "build", "--rpm", "0", "-j", "2", "ep.yaml"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            # both workers took their next request after the two answered ones: those two are rendered
            assert server.wait_held(2), "the build never reached its third and fourth requests"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 130, (out, err)
        assert "interrupted" in err and "cached" in err
        assert "Traceback" not in err
        cache = tmp_path / ".podpipe-cache"
        assert len(list(cache.rglob("*.json"))) == 2  # the two answered renders, stored before the exit
        assert not (tmp_path / "build" / "ep.wav").exists()

        server.release()
        sent_before = len(server.generate_requests())
        rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert "10 segments rendered, 2 cached" in rerun.stdout
        assert len(server.generate_requests()) - sent_before == 10
    assert (tmp_path / "build" / "ep.wav").exists()
