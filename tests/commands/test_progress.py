"""The library reports a build's progress through ``Progress`` hooks, with no terminal in sight: a caller gets
the warnings, the render count, every outcome and every episode's status, in that order."""

from __future__ import annotations


from podpipe.commands import BuildOptions, build
from podpipe.commands.build import Progress

SPEC = ("title: T\nspeakers:\n  host: {voice: Kore}\noutput: {format: wav}\n"
        "segments:\n  - host: One line.\n  - host: Another line.\n")


class Recording(Progress):
    def __init__(self):
        self.events: list[tuple] = []

    def note(self, message):
        self.events.append(("note", message))

    def rendering(self, total):
        self.events.append(("rendering", total))

    def rendered(self, outcome):
        self.events.append(("rendered", outcome.ok))

    def episode(self, status):
        self.events.append(("episode", status.name, status.state))


def test_a_build_reports_through_progress_hooks_and_prints_nothing(workdir, capsys):
    (workdir / "ep.yaml").write_text(SPEC, encoding="utf-8")
    progress = Recording()
    result = build(["ep.yaml"], BuildOptions(backend="espeak"), progress)
    assert [e for e in progress.events if e[0] != "note"] == [
        ("rendering", 2), ("rendered", True), ("rendered", True), ("episode", "ep", "built")]
    assert len(result.render.rendered) == 2
    assert capsys.readouterr() == ("", "")  # the library prints nothing: printing is the CLI's job

    again = Recording()
    build(["ep.yaml"], BuildOptions(backend="espeak"), again)
    assert again.events == [("episode", "ep", "up to date")]
