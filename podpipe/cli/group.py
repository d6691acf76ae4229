"""The ``podpipe`` command group: error mapping, the options several commands share, and ``main``.

Every error a user can act on is a ``PodpipeError`` and leaves with its ``ExitCode`` (``podpipe.errors``);
anything else is a bug (exit 70), with a traceback only behind ``--debug``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from podpipe import __version__
from podpipe.errors import ExitCode, PodpipeError, SpecError

SPECS = click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))


def _err(message: str, **style) -> None:
    click.secho(message, err=True, **style)


class PodpipeGroup(click.Group):
    """Maps every user-facing error to its message and exit code; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        debug = ctx.params.get("debug") or os.environ.get("PODPIPE_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except PodpipeError as exc:
            if debug:
                raise
            if isinstance(exc, SpecError):
                for warning in exc.warnings:
                    _err(str(warning), fg="yellow")
            _err(f"error: {exc}" if not isinstance(exc, SpecError) else str(exc), fg="red")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _err("\ninterrupted: renders that finished are cached; run the same command to continue", fg="yellow")
            ctx.exit(ExitCode.INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, BrokenPipeError):
            raise  # click's own handling (a closed pipe: `podpipe voices | head`) is right for these
        except Exception as exc:
            if debug:
                raise
            _err(f"internal error: {type(exc).__name__}: {exc}\n"
                 "This is a bug in podpipe. Rerun with --debug for a traceback and report it.", fg="red")
            ctx.exit(ExitCode.INTERNAL)


@click.group(cls=PodpipeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="podpipe")
@click.option("--debug", is_flag=True, help="Show a traceback for any error (also PODPIPE_DEBUG=1).")
def cli(debug: bool) -> None:
    """Turn YAML episode specs into finished podcast episodes with Gemini text-to-speech.

    \b
    Example:
      podpipe build episodes/*.yaml
    """


def _print_warnings(warnings) -> None:
    for warning in warnings:
        _err(str(warning), fg="yellow")


def _backend_option(f):
    from podpipe.backends import names
    return click.option("--backend", type=click.Choice(names()), default=None,
                        help="Render with this backend (default: the configured backend of highest priority, e.g. "
                             "gemini when GEMINI_API_KEY or GOOGLE_API_KEY is set, else the offline espeak draft "
                             "voice).")(f)


class _Rpm(click.ParamType):
    """``auto`` (None: adapt from each model's rate) or a number of requests per minute (0: no limit)."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, (int, float)):
            return value
        if str(value).strip().lower() == "auto":
            return None
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither 'auto' nor a number of requests per minute", param, ctx)
        if number < 0:
            self.fail(f"{value!r} is negative: give requests per minute, 0 for no limit, or 'auto'", param, ctx)
        return number


def _scheduling_options(f):
    """--rpm, --quota-wait, --rate-limit-url, --retries, --timeout: flags, or PODPIPE_* variables for a CI config."""
    f = click.option("--rate-limit-url", "rate_limit_url", metavar="URL", default=None,
                     envvar="PODPIPE_RATE_LIMIT_URL", show_envvar=True,
                     help="redis://host:port/db: one rate limit per API key and model, shared by every machine "
                          "and CI job that uses it (needs podpipe[redis]); if Redis fails, the build goes on "
                          "with its own adaptive rate.")(f)
    from podpipe.render.limiter import QUOTA_WAIT

    f = click.option("--quota-wait", "quota_wait", type=click.FloatRange(min=0), default=QUOTA_WAIT,
                     show_default=True, envvar="PODPIPE_QUOTA_WAIT", show_envvar=True,
                     help="Seconds the build may wait in all for quota (the server's 429 pauses, which do not "
                          "use up --retries); past it, a refused request fails.")(f)
    f = click.option("--timeout", type=click.FloatRange(min=1), default=None, envvar="PODPIPE_TIMEOUT",
                     show_envvar=True, help="Seconds per request attempt.")(f)
    f = click.option("--retries", "attempts", type=click.IntRange(1, 20), default=5, show_default=True,
                     envvar="PODPIPE_RETRIES", show_envvar=True, help="Attempts per request, the first included.")(f)
    return click.option("--rpm", type=_Rpm(), default="auto", show_default=True, envvar="PODPIPE_RPM",
                        show_envvar=True,
                        help="Requests per minute, per model, shared by all jobs. auto: start at the model's "
                             "tier-1 rate, climb while requests succeed and cut to what got through on a "
                             "rate-limit refusal; N: the same from N, never above it; 0: no limit. With "
                             "--shard K/N a build starts at 1/N of it.")(f)


def _outside_option(f):
    return click.option("--allow-outside-root", "allow_outside", is_flag=True,
                        help="Let specs name show files, sounds, artwork and outputs outside the working "
                             "directory (refused by default, so a shared spec cannot read or write elsewhere).")(f)


def _strict_option(f):
    return click.option("--strict", is_flag=True,
                        help="Treat warnings as errors (exit 2), e.g. a temperature the model does not take; "
                             "for CI.")(f)


def _remote_options(f):
    f = click.option("--remote-cache-mode", "remote_mode", type=click.Choice(["read", "write", "off"]),
                     default=None, help="read: take from the remote cache, never write to it (e.g. pull requests "
                                        "from forks); off: ignore it. Default: write, read for http(s) "
                                        "(also PODPIPE_REMOTE_CACHE_MODE).")(f)
    return click.option("--remote-cache", "remote_cache", metavar="URL", default=None,
                        help="A cache shared by every machine, behind the local one: s3://bucket/prefix, gs://, "
                             "az://, file:///path, or http(s):// (read-only). Also PODPIPE_REMOTE_CACHE.")(f)


def _remote_timeout_option(f):
    return click.option("--remote-cache-timeout", "remote_timeout", type=click.FloatRange(min=0, min_open=True),
                        default=None, metavar="SECONDS",
                        help="Seconds the remote cache may cost this run in operations that fail or get no "
                             "answer, in all; then it is switched off for the rest of the run (default 30; also "
                             "PODPIPE_REMOTE_CACHE_TIMEOUT).")(f)


def _cache_option(f):
    return click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Render cache directory (default: $PODPIPE_CACHE_DIR, else ./.podpipe-cache).")(f)


def main() -> None:
    try:
        cli.main(prog_name="podpipe")
    except BrokenPipeError:
        # `podpipe voices | head`: the reader left; that is not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.OK)
    except SystemExit as exc:
        if exc.code == ExitCode.INTERRUPTED:
            # Worker threads may be stuck in a network call; everything finished is already cached.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(ExitCode.INTERRUPTED)
        raise
