"""What ``podpipe build`` prints while it works: a progress bar on a terminal, plain lines in CI logs. The library
reports through ``commands.build.Progress``; this is the click rendering of it, the only one that prints."""

from __future__ import annotations

import sys
import threading

import click

from podpipe.commands.build import Progress
from podpipe.commands.results import EpisodeStatus, shown_path
from podpipe.compile import RenderRequest
from podpipe.render import Outcome


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


class ClickProgress(Progress):
    def __init__(self, *, quiet: bool = False, verbose: bool = False, notes_only: bool = False):
        self.quiet = quiet or notes_only  # notes_only: warnings and notices, no progress (`podpipe say`)
        self.notes_only = notes_only
        self.verbose = verbose
        self._bar = None
        self._lock = threading.Lock()  # workers report from their threads

    def note(self, message: str) -> None:
        if not self.quiet or self.notes_only:
            click.secho(message, err=True, fg="yellow")

    def rendering(self, total: int) -> None:
        if self.quiet:
            return
        if self.verbose or not sys.stderr.isatty():
            click.echo(f"rendering {total} request{'s' if total != 1 else ''}", err=True)
            return
        self._bar = click.progressbar(length=total, label="rendering", file=sys.stderr,
                                      show_pos=True, show_eta=True)
        self._bar.__enter__()

    def attempt(self, request: RenderRequest, attempt: int) -> None:
        if self.verbose and attempt > 1:
            with self._lock:
                click.echo(f"  retry {attempt}: {request.key[:12]}", err=True)

    def rendered(self, outcome: Outcome) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.update(1)
            if self.verbose or (not outcome.ok and not self.quiet):
                speaker = outcome.request.turns[0].speaker
                state = "ok" if outcome.ok else f"FAILED: {outcome.error}"
                click.echo(f"  {outcome.request.key[:12]} {speaker}: {state} "
                           f"({outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}, "
                           f"{outcome.seconds:.1f} s)", err=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def episode(self, status: EpisodeStatus) -> None:
        self._close_bar()
        if self.quiet:
            return
        if status.state == "built":
            how = f", {status.detail}" if status.detail else ""  # e.g. "from the remote cache"
            click.echo(f"{status.name}: built {shown_path(status.output)} ({_duration(status.duration or 0)}{how})")
        elif status.state == "up to date":
            click.echo(f"{status.name}: up to date")
        else:
            click.secho(f"{status.name}: {status.state} ({status.detail})", fg="yellow")

    def finish(self, result) -> None:
        self._close_bar()
        if result is None:
            return
        if self.verbose:
            for rate in result.render.rates:
                click.echo(f"rate for {rate.model}: settled at {rate.settled:.1f} requests/min (started at "
                           f"{rate.start:.1f}, peak {rate.peak:.1f}"
                           f"{f', ceiling {rate.ceiling:g}' if rate.ceiling is not None else ''}; "
                           f"{rate.refused} refused for quota)", err=True)
            if result.render.quota_wait_seconds:
                click.echo(f"waited {result.render.quota_wait_seconds:.1f} s for quota", err=True)
        click.secho(result.summary(), bold=True, err=False)
