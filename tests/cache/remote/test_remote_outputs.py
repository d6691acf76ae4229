"""Finished episodes in the remote cache (file:// and a real S3 server): stored under the mix's
inputs_digest, restored byte for byte on another machine, and never served half: files without their index,
an index naming a missing or different file, or an index with a hostile name is a miss that leaves nothing
behind in the target directory."""

from __future__ import annotations

import json

import pytest

from tests.cache.remote.conftest import Shared


@pytest.fixture
def episode_files(tmp_path):
    """An output and its sidecars as the mix writes them."""
    build = tmp_path / "build"
    build.mkdir()
    files = {"ep12.mp3": b"ID3" + bytes(range(256)) * 40, "ep12.manifest.json": b'{"manifest_version": 1}\n',
             "ep12.vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\n<v Alex>Hi\n", "ep12.srt": b"1\n00:00:00,000 --> "
             b"00:00:01,000\nAlex: Hi\n"}
    for name, data in files.items():
        (build / name).write_bytes(data)
    return {name: build / name for name in files}


def _index(digest: str) -> str:
    return f"outputs/{digest[:2]}/{digest}.json"


def _blob(digest: str, sha256: str) -> str:
    return f"outputs/{digest[:2]}/{digest}/{sha256}"


def test_a_finished_output_is_restored_byte_for_byte_on_another_machine(shared: Shared, tmp_path, key,
                                                                        episode_files) -> None:
    digest = key("inputs")
    assert shared.open().get_output(digest, tmp_path / "nothing") is None
    assert not shared.open().has_output(digest)
    uploader = shared.open()
    assert uploader.put_output(digest, episode_files, {"duration": 215.3, "api_key": "dropped"})
    assert uploader.put_output(digest, episode_files, {"duration": 215.3})  # again: the bytes are not sent twice
    assert uploader.stats().outputs_up == 2
    sent = uploader.stats().bytes_up
    assert sent < 2 * sum(p.stat().st_size for p in episode_files.values())

    fresh = shared.open()
    assert fresh.has_output(digest)
    target = tmp_path / "fresh-ci" / "build"
    fetched = fresh.get_output(digest, target, names=episode_files)
    assert fetched is not None and fetched.digest == digest
    assert sorted(fetched.files) == sorted(episode_files)
    for name, path in fetched.files.items():
        assert path == target / name and path.read_bytes() == episode_files[name].read_bytes()
    assert sorted(p.name for p in target.iterdir()) == sorted(episode_files)  # no temp files left
    assert fetched.meta == {"duration": 215.3}  # credential-named fields never leave the machine
    assert fresh.stats().outputs_down == 1
    assert fresh.get_output(digest, tmp_path / "other", names=["ep12.wav"]) is None  # other names: a miss
    assert not shared.warnings


def test_a_half_uploaded_or_damaged_output_is_never_served(shared: Shared, tmp_path, key, episode_files) -> None:
    remote = shared.open()
    complete, files_only, missing_file, changed_file, hostile = (key(n) for n in range(5))
    assert remote.put_output(complete, episode_files)
    index = json.loads(shared.read(_index(complete)))
    blobs = {f["sha256"]: shared.read(_blob(complete, f["sha256"])) for f in index["files"]}
    first = index["files"][0]["sha256"]  # ep12.mp3's

    # an upload interrupted before its index: the files are there, the output is not
    for sha, data in blobs.items():
        shared.write(_blob(files_only, sha), data)
    # an index naming a file that never arrived
    shared.write(_index(missing_file), json.dumps({**index, "digest": missing_file}).encode())
    for sha, data in blobs.items():
        if sha != first:
            shared.write(_blob(missing_file, sha), data)
    # an index whose file was changed after the fact (same size)
    shared.write(_index(changed_file), json.dumps({**index, "digest": changed_file}).encode())
    for sha, data in blobs.items():
        shared.write(_blob(changed_file, sha), data if sha != first else data[:-1] + b"!")
    # an index that tries to write outside the target directory
    evil = {**index, "digest": hostile, "files": [{**index["files"][0], "name": "../escaped.mp3"}]}
    shared.write(_index(hostile), json.dumps(evil).encode())

    reader = shared.open()
    for digest in (files_only, missing_file, changed_file, hostile):
        target = tmp_path / digest[:8]
        target.mkdir()
        (target / "ep12.mp3").write_bytes(b"the previous build's output")
        assert reader.get_output(digest, target) is None
        # nothing was written or replaced, and no temp file is left behind
        assert [p.name for p in target.iterdir()] == ["ep12.mp3"]
        assert (target / "ep12.mp3").read_bytes() == b"the previous build's output"
    assert not (tmp_path / "escaped.mp3").exists()
    assert reader.stats().rejected == 3 and reader.stats().outputs_down == 0
    assert len(shared.warnings) == 3
    assert any("is missing" in w for w in shared.warnings)
    assert any("does not match its index" in w for w in shared.warnings)
    assert any("bad file entry" in w for w in shared.warnings)
    assert reader.get_output(complete, tmp_path / "ok") is not None


def test_bad_output_arguments_are_the_callers_errors(file_shared: Shared, tmp_path, episode_files) -> None:
    remote = file_shared.open()
    with pytest.raises(ValueError, match="invalid output digest"):
        remote.put_output("not-a-digest", episode_files)
    for name in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError, match="invalid output file name"):
            remote.put_output("a" * 64, {name: episode_files["ep12.vtt"]})
    with pytest.raises(FileNotFoundError):
        remote.put_output("a" * 64, {"gone.mp3": tmp_path / "gone.mp3"})
    with pytest.raises(ValueError, match="invalid output digest"):
        remote.get_output("../../etc", tmp_path)
