"""An episode as the checks see it: the data merged along its ``extends`` chain, plus the files it came from.

Checks read the merged data (an episode sees the speakers its show file declares), but a diagnostic must
point into the file where the offending value was written, because that is the file the user has to edit.
``View`` keeps both and collects the diagnostics of one document.
"""

from __future__ import annotations

import json
from typing import Any

from podpipe.errors import Diagnostic
from podpipe.spec.yamldoc import DocPath, Loc, YamlDoc, format_path


class View:
    """A document as validated: merged data plus the files it came from, the episode first.

    A merged value comes from the first file in the chain that contains its path (the episode wins, and a
    list or scalar replaced by the episode leaves no path of the show file's value behind), so every
    diagnostic points into the file where the value was written.
    """

    def __init__(self, data: dict, docs: list[YamlDoc]):
        self.data = data
        self.docs = docs
        self.diagnostics: list[Diagnostic] = []

    def origin(self, path: DocPath) -> YamlDoc:
        for doc in self.docs:
            if path in doc.marks:  # a document has a mark for exactly the paths its data contains
                return doc
        return self.docs[0]

    def loc(self, path: DocPath, *, key: bool = False) -> Loc:
        doc = self.origin(path)
        found = doc.key_loc(path) if key else None
        while found is None and path:
            found = doc.loc(path)
            path = path[:-1]
        return found or doc.loc(()) or Loc(doc.file, 1, 1)

    def broken(self, path: DocPath) -> bool:
        """Whether the value was already rejected while loading (its error is reported)."""
        return path in self.origin(path).broken

    def source(self, path: DocPath, value: Any) -> str:
        """What the user wrote for a non-string scalar (``yes`` rather than True)."""
        return self.origin(path).sources.get(path) or json.dumps(value)

    def add(self, path: DocPath, message: str, *, key: bool = False, severity: str = "error",
            field: DocPath | None = None) -> None:
        loc = self.loc(path, key=key)
        self.diagnostics.append(Diagnostic(loc.file, loc.line, loc.column,
                                           format_path(path if field is None else field), message, severity))

    def warn(self, path: DocPath, message: str, *, key: bool = False) -> None:
        self.add(path, message, key=key, severity="warning")

    @property
    def failed(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)
