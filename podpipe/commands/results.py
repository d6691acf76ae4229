"""What a build returns: each episode's status and the whole run's result (``BuildResult.summary`` is the
line every front end prints). Kept apart from the build itself so the progress display, the JSON report and
the mixing workers share them without importing the build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podpipe.compile import CompiledEpisode, RenderRequest
from podpipe.errors import Diagnostic
from podpipe.render import Outcome, RenderResult

if TYPE_CHECKING:
    from podpipe.cache import RemoteStats
    from podpipe.mix import MixResult


def shown_path(path: Path) -> str:
    """Relative to the working directory when inside it: that is how the user named it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class EpisodeStatus:
    compiled: CompiledEpisode
    state: str  # "up to date" | "built" | "not mixed" | "failed"
    detail: str = ""
    output: Path | None = None
    duration: float | None = None
    notes: tuple[str, ...] = ()
    mixed: MixResult | None = field(default=None, repr=False)  # what the mix wrote, when it ran here

    @property
    def name(self) -> str:
        return self.compiled.episode.stem


@dataclass(frozen=True)
class Rejudged:
    """What ``build --review-cached`` did to the cached takes (``commands.rejudge``)."""

    judged: int = 0  # kept takes judged again
    measured: int = 0  # of which measured first: no measures were stored with them
    flagged: tuple[str, ...] = ()  # keys whose take passed before and fails now
    cleared: tuple[str, ...] = ()  # keys whose flagged take passes now
    rerolled: tuple[str, ...] = ()  # keys whose take, failing now, is rendered again (--retakes given)

    @property
    def changed(self) -> frozenset[str]:
        return frozenset((*self.flagged, *self.cleared, *self.rerolled))

    def summary(self) -> str:
        return (f"cached takes reviewed again: {self.judged} re-judged, {len(self.flagged)} newly flagged, "
                f"{len(self.cleared)} cleared, {len(self.rerolled)} re-rolled")

    def as_dict(self) -> dict[str, Any]:
        return {"rejudged": self.judged, "measured": self.measured, "flagged": list(self.flagged),
                "cleared": list(self.cleared), "rerolled": list(self.rerolled)}


@dataclass(frozen=True)
class BuildResult:
    backend: str
    episodes: tuple[EpisodeStatus, ...]
    render: RenderResult = field(default_factory=lambda: RenderResult(()))
    needed: tuple[RenderRequest, ...] = ()  # unique requests of every episode: rendered now, or already there
    warnings: tuple[Diagnostic, ...] = ()
    remote: RemoteStats | None = None  # the remote cache's counters, when there is one
    rejudged: Rejudged | None = None  # what --review-cached did to the cached takes

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return self.render.failed

    @property
    def cached(self) -> int:
        return len(self.needed) - len(self.render.outcomes)

    @property
    def prices(self) -> dict:
        """The specs' ``prices:`` overrides (``podpipe.commands.cost.spec_prices``)."""
        from podpipe.commands.cost import spec_prices

        return dict(spec_prices(e.compiled.episode for e in self.episodes))

    def summary(self) -> str:
        rendered, failed = len(self.render.rendered), len(self.render.failed)
        line = (f"{rendered} segment{'s' if rendered != 1 else ''} rendered, {self.cached} cached, "
                f"{failed} failed")
        retakes = sum(o.retakes for o in self.render.outcomes)
        flagged = sum(1 for o in self.render.outcomes if o.flagged)
        if retakes or flagged:
            line += f" ({retakes} re-roll{'s' if retakes != 1 else ''}, {flagged} flagged)"
        tokens = sum(o.usage.total_tokens for o in self.render.outcomes)
        if tokens:
            from podpipe.commands.cost import cost_usd

            prices = self.prices
            usd = sum(cost_usd(o.request, o.usage.prompt_tokens, o.usage.output_tokens, prices)
                      for o in self.render.outcomes)
            line += f"; {tokens:,} tokens, ~${usd:.4f}"
        built = sum(1 for e in self.episodes if e.state == "built")
        fresh = sum(1 for e in self.episodes if e.state == "up to date")
        line += f"; {built} episode{'s' if built != 1 else ''} built, {fresh} up to date"
        if self.rejudged is not None:
            line += f"; {self.rejudged.summary()}"
        return line + (f"; {self.remote.summary()}" if self.remote else "")
