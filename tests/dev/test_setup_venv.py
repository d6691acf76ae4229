"""``make demo`` / ``make test`` set-up (tools/setup-venv and the Makefile's stamps), with uv and with pip, on a
tiny project: its build backend is in-tree and its two dependencies are local wheels, so nothing leaves the
machine and each path takes seconds. The runtime set-up must not install the dev extra; a dev set-up after it
must; a second run of either installs nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

# A PEP 517/660 backend in 30 lines: wheels (and editable wheels, a .pth to the source) for a one-module project.
BACKEND = '''
import base64, hashlib, os, zipfile

NAME, VERSION = "probe_app", "1.0"
META = "Metadata-Version: 2.1\\nName: probe-app\\nVersion: 1.0\\nRequires-Dist: probe-runtime\\n" \\
       "Provides-Extra: dev\\nRequires-Dist: probe-dev; extra == 'dev'\\n"


def wheel(directory, name, version, files, metadata):
    dist = f"{name}-{version}.dist-info"
    files = {**files, f"{dist}/METADATA": metadata,
             f"{dist}/WHEEL": "Wheel-Version: 1.0\\nGenerator: probe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    digest = lambda d: base64.urlsafe_b64encode(hashlib.sha256(d.encode()).digest()).rstrip(b"=").decode()
    record = "".join(f"{p},sha256={digest(d)},{len(d.encode())}\\n" for p, d in files.items()) + f"{dist}/RECORD,,\\n"
    path = os.path.join(directory, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as z:
        for p, d in {**files, f"{dist}/RECORD": record}.items():
            z.writestr(p, d)
    return os.path.basename(path)


def build_wheel(directory, config_settings=None, metadata_directory=None):
    return wheel(directory, NAME, VERSION, {"probe_app.py": open("probe_app.py").read()}, META)


def build_editable(directory, config_settings=None, metadata_directory=None):
    return wheel(directory, NAME, VERSION, {"probe_app.pth": os.getcwd() + "\\n"}, META)
'''

PYPROJECT = """[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "probe-app"
version = "1.0"
dependencies = ["probe-runtime"]

[project.optional-dependencies]
dev = ["probe-dev"]
"""


def _find_uv() -> str | None:
    return shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "app"
    (root / "tools").mkdir(parents=True)
    shutil.copy(REPO / "tools" / "setup-venv", root / "tools")
    shutil.copy(REPO / "Makefile", root)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "backend.py").write_text(BACKEND)
    (root / "probe_app.py").write_text("NAME = 'app'\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    namespace: dict = {}
    exec(BACKEND, namespace)  # noqa: S102 - our own backend above, to make the dependency wheels
    for dep in ("probe_runtime", "probe_dev"):
        namespace["wheel"](str(wheels), dep, "1.0", {f"{dep}.py": "OK = True\n"},
                           f"Metadata-Version: 2.1\nName: {dep.replace('_', '-')}\nVersion: 1.0\n")
    return root


def _env(project: Path, installer: str | None, path: str) -> dict[str, str]:
    wheels = str(project.parent / "wheels")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PODPIPE_", "VIRTUAL_ENV"))}
    env.update(PATH=path, PYTHON=sys.executable, PIP_NO_INDEX="1", PIP_FIND_LINKS=wheels, UV_NO_INDEX="1",
               UV_FIND_LINKS=wheels, PIP_DISABLE_PIP_VERSION_CHECK="1")
    if installer:
        env["PODPIPE_INSTALLER"] = installer
    return env


def _make(project: Path, env: dict, target: str) -> str:
    done = subprocess.run(["make", "--no-print-directory", target], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _imports(project: Path, module: str) -> bool:
    return subprocess.run([str(project / ".venv" / "bin" / "python"), "-c", f"import {module}"],
                          capture_output=True).returncode == 0


def _walk_the_stamps(project: Path, env: dict, via: str) -> None:
    out = _make(project, env, ".venv/.stamp-runtime")  # what `make demo` needs
    assert f"installed into .venv with {via}" in out
    assert _imports(project, "probe_app") and _imports(project, "probe_runtime")
    assert not _imports(project, "probe_dev")  # runtime only: no dev extra
    assert (project / ".venv" / ".stamp-runtime").read_text().strip() == via
    assert not (project / ".venv" / ".stamp-dev").exists()
    assert "installed" not in _make(project, env, ".venv/.stamp-runtime")  # up to date: nothing done

    out = _make(project, env, "venv")  # what `make test` needs, after `make demo`: the dev extra is added
    assert f"dev dependencies installed into .venv with {via}" in out
    assert _imports(project, "probe_dev")
    assert "installed" not in _make(project, env, "venv") + _make(project, env, ".venv/.stamp-runtime")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_set_up_with_uv(project):
    uv = _find_uv()
    if uv is None:
        pytest.skip("uv is not installed (the dev extra brings it, through pre-commit-uv)")
    path = os.pathsep.join([str(Path(uv).parent), os.environ.get("PATH", "")])
    _walk_the_stamps(project, _env(project, "uv", path), "uv")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.ci  # a venv built by pip costs 10-30 s: CI runs it, `make test` locally does not
def test_set_up_falls_back_to_pip_when_uv_cannot_be_had(project):
    # no uv on PATH, and the registry is out of reach (PIP_NO_INDEX), so uv's wheel cannot be fetched either
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not (Path(d) / "uv").exists())
    _walk_the_stamps(project, _env(project, None, path), "pip")
    assert not (project / ".tools" / "uv").exists()
