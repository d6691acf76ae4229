"""What the CI recipes promise: the workflows in docs/ci.md, their podpipe commands run job by job on fresh
"machines" sharing one (local, file://) remote cache; and the pre-commit hook this repository offers, run the
way a user's project runs it (``pre-commit run`` with the hook in its .pre-commit-config.yaml, which installs
podpipe from a snapshot of this checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

VALID = "title: T\nspeakers:\n  host: {voice: Kore}\nsegments:\n  - host: Hello.\n"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str, Path]:
    """This checkout as a user's project sees it: a git repository (a snapshot of the working tree, uncommitted
    changes included, as ``pre-commit try-repo`` would make) at a commit, and one PRE_COMMIT_HOME for the
    module, so pre-commit installs the hook's environment once (try-repo installs it again on every call)."""
    root = tmp_path_factory.mktemp("hook-repo")
    snapshot = root / "podpipe"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", "-A")
    _git(snapshot, "commit", "-qm", "snapshot")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=snapshot, check=True, capture_output=True,
                         text=True).stdout.strip()
    return snapshot, rev, root / "pre-commit-home"


def _pre_commit(project: Path, hook_repo: tuple[Path, str, Path], *files: str) -> subprocess.CompletedProcess:
    """``pre-commit run`` in ``project`` with the hook as a user's .pre-commit-config.yaml names it."""
    repo, rev, home = hook_repo
    config = project / ".pre-commit-config.yaml"
    if not config.exists():
        config.write_text(f"repos:\n  - repo: {repo.as_uri()}\n    rev: {rev}\n    hooks:\n"
                          "      - id: podpipe-validate\n", encoding="utf-8")
        _git(project, "add", ".pre-commit-config.yaml")  # pre-commit refuses an unstaged config
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    env.pop("PODPIPE_CACHE_DIR", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "podpipe-validate", "--files", *files],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
@pytest.mark.xdist_group("pre-commit")  # one worker, one hook environment
def test_pre_commit_hook_passes_valid_specs_and_stops_invalid_ones(tmp_path, hook_repo):
    project = tmp_path / "show"
    (project / "episodes" / "shows").mkdir(parents=True)
    (project / "episodes" / "ep01.yaml").write_text(VALID, encoding="utf-8")
    (project / "episodes" / "ep02.yaml").write_text(VALID.replace("Kore", "Kora"), encoding="utf-8")
    (project / "episodes" / "shows" / "show.yaml").write_text("author: Somebody\n", encoding="utf-8")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "episodes")

    ok = _pre_commit(project, hook_repo, "episodes/ep01.yaml", "episodes/shows/show.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "podpipe validate" in ok.stdout and "Passed" in ok.stdout

    bad = _pre_commit(project, hook_repo, "episodes/ep01.yaml", "episodes/ep02.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "episodes/ep02.yaml:3:17: speakers.host.voice: unknown voice 'Kora'; did you mean 'Kore'?" in bad.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
@pytest.mark.xdist_group("pre-commit")  # one worker, one hook environment
def test_pre_commit_hook_validates_the_episodes_extending_a_changed_show_file(tmp_path, hook_repo):
    project = tmp_path / "show"
    (project / "episodes" / "shows").mkdir(parents=True)
    episode = "extends: shows/show.yaml\ntitle: T{n}\nsegments:\n  - host: Hello.\n"
    for n in (1, 2):
        (project / "episodes" / f"ep0{n}.yaml").write_text(episode.format(n=n), encoding="utf-8")
    (project / "episodes" / "other.yaml").write_text(VALID.replace("Kore", "Kora"), encoding="utf-8")  # unrelated
    show = project / "episodes" / "shows" / "show.yaml"
    show.write_text("speakers:\n  host: {voice: Kore}\n", encoding="utf-8")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "episodes")

    ok = _pre_commit(project, hook_repo, "episodes/shows/show.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    show.write_text("speakers:\n  host: {voice: Kora}\n", encoding="utf-8")  # the only change: the show file
    _git(project, "add", ".")
    bad = _pre_commit(project, hook_repo, "episodes/shows/show.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    # the episodes were loaded (the error is where it is written: the show file) ...
    assert "episodes/shows/show.yaml:2:17: speakers.host.voice: unknown voice 'Kora'" in bad.stdout
    assert "other.yaml" not in bad.stdout  # ... and only the episodes that extend it


# -- the workflows in docs/ci.md, run as CI would run them --------------------------------------------------

def _recipes() -> dict[str, dict]:
    """Every YAML block of docs/ci.md that is a whole workflow, by its first comment (the file it is)."""
    import yaml

    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    found = {}
    for block in text.split("```yaml\n")[1:]:
        body = block.split("```", 1)[0]
        if body.startswith("# ."):
            found[body.splitlines()[0][2:]] = yaml.safe_load(body)
    return found


def _podpipe_steps(job: dict) -> list[str]:
    lines = [s["run"] for s in job.get("steps", []) if "run" in s] + list(job.get("script", []))
    return [line for line in lines if line.startswith("podpipe ")]


def _run_line(line: str, project: Path, **subst: str) -> int:
    import shlex

    from tests.support.cli import run

    for name, value in subst.items():
        line = line.replace(name, value)
    args = []
    for word in shlex.split(line)[1:]:
        args += sorted(str(p.relative_to(project)) for p in project.glob(word)) if "*" in word else [word]
    result = run(*args, code=None)
    assert result.exit_code != 70, result.output  # a bug: show what it said
    return result.exit_code


@pytest.fixture
def examples(tmp_path, monkeypatch):
    project = tmp_path / "show"
    shutil.copytree(REPO / "episodes", project / "episodes")
    monkeypatch.chdir(project)
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_REMOTE_CACHE_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE", (tmp_path / "bucket").as_uri())  # the recipes' bucket, locally
    return project


@pytest.mark.parametrize("recipe", [".github/workflows/episodes.yml", ".gitlab-ci.yml"])
def test_the_ci_recipes_do_what_docs_ci_md_says(recipe, examples, tmp_path, monkeypatch):
    workflow = _recipes()[recipe]
    jobs = {name: job for name, job in workflow.items() if isinstance(job, dict) and name != "variables"}
    if "jobs" in workflow:
        jobs = workflow["jobs"]
    check, render = _podpipe_steps(jobs["check"]), _podpipe_steps(jobs["render"])
    assert [line.split()[1] for line in check] == ["validate", "plan"] and "--frozen" in check[1]

    def machine(name: str) -> None:  # every CI job starts with an empty local cache
        monkeypatch.setenv("PODPIPE_CACHE_DIR", str(tmp_path / name))

    machine("pr-1")
    assert [_run_line(line, examples) for line in check] == [0, 3]  # nothing rendered yet: a PR would spend
    shards = 4
    for k in range(1, shards + 1):
        machine(f"render-{k}")
        assert _run_line(render[0], examples, **{"${{ matrix.shard }}": str(k), "$CI_NODE_INDEX": str(k),
                                                 "$CI_NODE_TOTAL": str(shards)}) == 0
    built = sorted(p.name for p in (examples / "build").glob("*.mp3"))
    assert built == ["ep12-city-bees.mp3", "ep13-longitude.mp3", "ep14-bike-city-panel.mp3"]
    machine("pr-2")
    assert [_run_line(line, examples) for line in check] == [0, 0]  # the bucket has every render now

    publish = _podpipe_steps(jobs["publish"])
    assert [line.split()[1] for line in publish] == ["build", "publish"] and "--frozen" in publish[0]
    machine("publish")
    site = tmp_path / "site"
    assert [_run_line(line, examples, **{"s3://my-podcast-site/show": site.as_uri()}) for line in publish] == [0, 0]
    for name in built:  # under its content-addressed name (podpipe.feed.make)
        stem = name.removesuffix(".mp3")
        [published] = (site / "episodes").glob(f"{stem}.*.mp3")
        assert published.read_bytes() == (examples / "build" / name).read_bytes()
