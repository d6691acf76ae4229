"""What a remote cache counts: what it did in a run (``RemoteStats``: the summary line, ``--report``) and
what its store holds (``RemoteInfo``: ``podpipe cache info``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RemoteStats:
    """What the remote cache did in this run, for the summary line and ``--report``."""

    hits: int = 0  # keys whose entry was downloaded and verified
    misses: int = 0  # keys looked up and not found (or rejected), and not found later in the run
    rejected: int = 0  # downloaded entries or outputs that failed verification (a miss each, warned)
    errors: int = 0  # remote operations that failed (unreachable, denied, timed out, throttled)
    skipped: int = 0  # operations not tried because the remote was given up on after errors
    uploads: int = 0  # entries uploaded
    bytes_down: int = 0
    bytes_up: int = 0
    leases: int = 0  # leases taken (takeovers included)
    takeovers: int = 0  # expired leases of other (crashed) machines taken over
    waits: int = 0  # keys waited for while another machine held their lease
    outputs_down: int = 0  # finished episodes downloaded
    outputs_up: int = 0  # finished episodes uploaded
    repaired: int = 0  # remote objects that failed verification, replaced by a good copy (conditionally)
    timeouts: int = 0  # operations abandoned for want of an answer (``--remote-cache-timeout``)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def summary(self) -> str:
        """``"remote cache: 12 hits, 3 misses, 0 errors"`` plus whatever else happened."""
        parts = [f"{self.hits} hit{'s' if self.hits != 1 else ''}",
                 f"{self.misses} miss{'es' if self.misses != 1 else ''}",
                 f"{self.errors} error{'s' if self.errors != 1 else ''}"]
        extra = (("rejected", self.rejected), ("uploaded", self.uploads), ("waited for", self.waits),
                 ("episode{s} downloaded", self.outputs_down), ("episode{s} uploaded", self.outputs_up),
                 ("repaired", self.repaired), ("timed out", self.timeouts))
        parts += [f"{n} {what.format(s='s' if n != 1 else '')}" for what, n in extra if n]
        return "remote cache: " + ", ".join(parts)


@dataclass(frozen=True)
class RemoteInfo:
    """What the remote holds, for ``podpipe cache info`` (by listing the store, only when asked)."""

    url: str
    mode: str
    entries: int = 0  # records (committed entries)
    entry_bytes: int = 0  # audio and records
    outputs: int = 0  # finished episodes (indexes)
    output_bytes: int = 0  # their files and indexes
    leases: int = 0  # lease objects (renders in progress, or left by crashed machines until they expire)
    other_bytes: int = 0  # objects below the root that podpipe does not write
    listed: bool = True  # False: the store cannot be listed (http) or listing failed (see ``problem``)
    problem: str = ""
