"""Whether an output must be mixed again: the manifest beside it says it was mixed from exactly these inputs
(``inputs_digest``) and the file and its sidecars are intact.

Stdlib only, no audio: a no-op build runs this for every episode, so it stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from podpipe.compile import CompiledEpisode
from podpipe.errors import PodpipeError
from podpipe.mix.context import MixStep
from podpipe.mix.files import file_sha256
from podpipe.mix.inputs import inputs_digest
from podpipe.mix.manifest import manifest_path, read_manifest
from podpipe.mix.steps import DEFAULT_STEPS


def is_up_to_date(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS) -> bool:
    """True when the manifest says the output was mixed from exactly these inputs and the file is intact."""
    output = compiled.plan.output
    try:
        manifest = read_manifest(output)
        recorded = manifest["output"]
        if manifest["inputs_digest"] != inputs_digest(compiled, steps):
            return False
        st = os.stat(output)
        if st.st_size != recorded["size"]:
            return False
        # an untouched file is trusted; a touched one (copied, checked out) must still hash the same
        if st.st_mtime_ns != recorded["mtime_ns"] and file_sha256(output) != recorded["sha256"]:
            return False
        here = manifest_path(output).parent
        return all((here / name).is_file() for name in manifest.get("sidecars", []))
    except (OSError, ValueError, KeyError, TypeError, PodpipeError):
        return False
