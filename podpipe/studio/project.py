"""What one ``podpipe studio`` serves: the project root, its specs, the cache, the session's token, and the live
parts (the event bus, the jobs, the sha256s the studio wrote itself, the outputs it watches)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from podpipe.studio.guard import inside
from podpipe.studio.live import Bus, Jobs, Own


@dataclass
class Studio:
    """What the app serves: the project root, its specs (relative paths, in the order given), the cache."""

    root: Path
    specs: list[str]
    cache_dir: Path | None = None
    token: str = ""
    bus: Bus = field(default_factory=Bus)
    own: Own = field(default_factory=Own)
    outputs: dict[str, Path] = field(default_factory=dict)  # spec → its built output, as last viewed

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.jobs = Jobs(self.bus)

    def spec_path(self, request) -> Path:
        """The spec a request names (``?spec=``, relative to the root); ``PathRefused`` for a path that leaves
        the root, LookupError for one that is not among the specs."""
        given = request.query_params.get("spec", "")
        path = inside(self.root, given)
        if path.relative_to(self.root).as_posix() not in self.specs:
            raise LookupError(f"{given}: not one of the specs this studio was started with")
        return path

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def watched(self) -> dict[Path, str]:
        found = {self.root / spec: f"spec:{spec}" for spec in self.specs}
        for spec, output in self.outputs.items():
            found.setdefault(output, f"output:{spec}")
        return found
