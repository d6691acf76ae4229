"""``podpipe studio`` as a command: the message naming the extra when it is not installed (a child process
whose imports of the studio extra's web packages fail, through a meta-path blocker on PYTHONPATH), a spec
outside the project refused, and the server it starts: the URL it prints, on 127.0.0.1, with the token."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.support import REPO
from tests.support.studio import offline_env, studio_process, write_project

BLOCKER = """\
import sys

class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"starlette", "uvicorn"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Blocker())
"""


def test_a_missing_extra_is_named_with_the_command_to_install_it(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    write_project(tmp_path)
    env = offline_env() | {"PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)])}
    done = subprocess.run([sys.executable, "-m", "podpipe", "studio", "ep.yaml", "--no-browser"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "pip install 'podpipe[studio]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_spec_outside_the_project_is_refused(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    write_project(tmp_path)
    done = subprocess.run([sys.executable, "-m", "podpipe", "studio", "../ep.yaml", "--no-browser"], cwd=project,
                          env=offline_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "project root" in done.stderr, done.stderr


def test_the_server_listens_on_loopback_with_a_token(tmp_path):
    pytest.importorskip("uvicorn")
    write_project(tmp_path)
    with studio_process(tmp_path, "ep.yaml") as url:
        base = url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "api/session", timeout=10)  # noqa: S310 - a loopback test URL
        assert refused.value.code == 403
        token = url.split("token=")[1]
        request = urllib.request.Request(base + "api/session", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert b'"ep.yaml"' in answer.read()


def test_a_port_in_use_is_a_clear_error_and_only_loopback_is_bound():
    from podpipe.errors import UsageError
    from podpipe.studio.server import bind

    held = bind(0)
    try:
        assert held.getsockname()[0] == "127.0.0.1"
        with pytest.raises(UsageError, match="--port"):
            bind(held.getsockname()[1])
    finally:
        held.close()
