"""``build --shard K/N``: every episode in exactly one shard, the same on every machine, and stable when
episodes are added."""

from __future__ import annotations

import pytest

from podpipe.commands.shard import parse_shard, select, shard_of
from podpipe.errors import UsageError
from tests.support.cli import run

SPEC = "title: Episode {n}\nspeakers:\n  host: {{voice: Kore}}\nsegments:\n  - host: Line {n}.\noutput: {{format: wav}}\n"


def test_each_episode_lands_in_exactly_one_shard_and_stays_there(tmp_path):
    paths = [f"episodes/ep{n:02d}.yaml" for n in range(40)]
    shards = [select(paths, (k, 4), tmp_path) for k in range(1, 5)]
    assert sorted(p for s in shards for p in s) == sorted(paths)
    assert all(shards)  # 40 episodes over 4 shards: none is empty
    more = paths + [f"episodes/ep{n:02d}.yaml" for n in range(40, 60)]
    for k in range(1, 5):  # adding episodes never moves an existing one
        assert set(select(more, (k, 4), tmp_path)) & set(paths) == set(shards[k - 1])
    # the identity is the path inside the project, wherever the project is checked out
    assert [shard_of(p, 4, tmp_path) for p in paths] == [shard_of(p, 4, tmp_path / "elsewhere") for p in paths]


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "1/0", "-1/2"])
def test_bad_shards_are_usage_errors(text):
    with pytest.raises(UsageError, match="write K/N"):
        parse_shard(text)
    assert parse_shard(" 2 / 4 ") == (2, 4)


def test_build_builds_only_its_shard(workdir):
    tmp_path = workdir
    names = [f"ep{n}.yaml" for n in range(6)]
    for n, name in enumerate(names):
        (tmp_path / name).write_text(SPEC.format(n=n), encoding="utf-8")
    built = []
    for k in (1, 2):
        result = run("build", "--shard", f"{k}/2", *names)
        built.append(sorted(p.stem for p in (tmp_path / "build").glob("*.wav")))
        assert f"shard {k}/2:" in result.output
    assert built[1] == sorted(f"ep{n}" for n in range(6))  # both shards together: everything
    assert 0 < len(built[0]) < 6
    assert run("build", "--shard", "3/2", *names, code=2).output.count("write K/N") == 1
