"""The ``podpipe`` command: a thin click layer over ``podpipe.commands``.

Every error a user can act on is a ``PodpipeError`` and leaves with its ``ExitCode`` (``podpipe.errors``);
anything else is a bug (exit 70), with a traceback only behind ``--debug``.
"""

from __future__ import annotations

import json
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
                        help="Render with this backend (default: gemini when GEMINI_API_KEY or GOOGLE_API_KEY "
                             "is set, else the offline espeak voice).")(f)


def _scheduling_options(f):
    """--rpm, --retries, --timeout: flags, or PODPIPE_* variables for a CI config."""
    f = click.option("--timeout", type=click.FloatRange(min=1), default=None, envvar="PODPIPE_TIMEOUT",
                     show_envvar=True, help="Seconds per request attempt.")(f)
    f = click.option("--retries", "attempts", type=click.IntRange(1, 20), default=5, show_default=True,
                     envvar="PODPIPE_RETRIES", show_envvar=True, help="Attempts per request, the first included.")(f)
    return click.option("--rpm", type=click.FloatRange(min=0), default=None, envvar="PODPIPE_RPM", show_envvar=True,
                        help="Request limit per minute shared by all jobs (default: the model's tier-1 quota; "
                             "0: none).")(f)


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


def _cache_option(f):
    return click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Render cache directory (default: $PODPIPE_CACHE_DIR, else ./.podpipe-cache).")(f)


@cli.command()
@SPECS
@_backend_option
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, envvar="PODPIPE_JOBS", show_envvar=True,
              help="Requests rendered at once.")
@_scheduling_options
@click.option("--force", is_flag=True, help="Mix outputs again even when up to date (renders still come from "
                                            "the cache; bump a segment's take: to re-roll it).")
@click.option("--frozen", is_flag=True, help="Fail with exit 3, rendering nothing, if any request is not cached.")
@_cache_option
@click.option("--only", "only", multiple=True, metavar="SEGMENT_ID",
              help="Render just these segments (repeatable); the episode is mixed if it is then complete.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a JSON report of every request (attempts, seconds, tokens, cost, outcome).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the summary line.")
@click.option("-v", "--verbose", is_flag=True, help="Print every render and retry as it happens.")
@_outside_option
@_strict_option
@click.option("--shard", metavar="K/N", default=None,
              help="Build only shard K of N (1-based): a fixed, stable share of SPECS, for CI matrix jobs.")
@_remote_options
def build(specs, backend, jobs, rpm, attempts, timeout, force, frozen, cache_dir, only, report, quiet, verbose,
          allow_outside, strict, shard, remote_cache, remote_mode):
    """Validate, render what is not cached, and mix every episode in SPECS.

    \b
    Examples:
      podpipe build episodes/*.yaml
      podpipe build -j 8 --report build/report.json episodes/ep01.yaml
      podpipe build --frozen episodes/*.yaml     # CI: never spend API quota
      podpipe build --shard 2/4 episodes/*.yaml  # CI matrix job 2 of 4
    """
    from podpipe.commands import BuildOptions
    from podpipe.commands import build as run_build
    from podpipe.commands.progress import ClickProgress
    from podpipe.commands.report import write_report
    from podpipe.errors import RenderError

    if shard:
        from podpipe.commands.shard import parse_shard, select

        picked = select(specs, parse_shard(shard))
        _err(f"shard {shard.strip()}: {len(picked)} of {len(specs)} spec{'s' if len(specs) != 1 else ''}")
        specs = picked
    options = BuildOptions(backend=backend, jobs=jobs, rpm=rpm, attempts=attempts, timeout=timeout, force=force,
                           frozen=frozen, cache_dir=cache_dir, only=tuple(only), allow_outside=allow_outside,
                           strict=strict, remote_cache=remote_cache, remote_mode=remote_mode)
    progress = ClickProgress(quiet=quiet, verbose=verbose)
    try:
        result = run_build(specs, options, progress)
    except RenderError as exc:
        if report and exc.result is not None:
            write_report(report, exc.result)
        progress.finish(exc.result)
        raise
    if report:
        write_report(report, result)
    progress.finish(result)


@cli.command()
@SPECS
@_outside_option
@_strict_option
@_cache_option
def validate(specs, allow_outside, strict, cache_dir):
    """Check SPECS against the schema and the semantic rules; exit 2 on any error.

    Extended Voice Library names are checked against the list `podpipe voices --backend gemini` keeps in the
    cache directory.

    \b
    Examples:
      podpipe validate episodes/*.yaml
      podpipe validate --strict episodes/*.yaml    # CI: warnings fail too
    """
    from podpipe.cache import load_library, resolve_cache_dir
    from podpipe.spec import load_episodes

    cache_root = resolve_cache_dir(cache_dir)
    result = load_episodes(specs, root=Path.cwd(), allow_outside=allow_outside, strict=strict,
                           library=lambda: load_library(cache_root))
    _print_warnings(result.warnings)
    n = len(result.episodes)
    click.echo(f"{n} spec{'s' if n != 1 else ''} valid")


@cli.command()
@SPECS
@_backend_option
@_cache_option
@click.option("--only", "only", multiple=True, metavar="SEGMENT_ID", help="Plan just these segments.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--frozen", is_flag=True, help="Exit 3 (after printing the plan) when anything would be rendered.")
@_outside_option
@_strict_option
@_remote_options
def plan(specs, backend, cache_dir, only, as_json, frozen, allow_outside, strict, remote_cache, remote_mode):
    """Show what build would render and what it would take from the cache, and why.

    \b
    Examples:
      podpipe plan episodes/ep01.yaml
      podpipe plan --json episodes/*.yaml > plan.json
      podpipe plan --frozen episodes/*.yaml   # CI on pull requests: fail if a build would spend quota
    """
    from podpipe.commands import BuildOptions
    from podpipe.commands.plan import make_plan

    result = make_plan(specs, BuildOptions(backend=backend, cache_dir=cache_dir, only=tuple(only),
                                           allow_outside=allow_outside, strict=strict, remote_cache=remote_cache,
                                           remote_mode=remote_mode))
    _print_warnings(result.warnings)
    summary = result.to_json()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        click.echo(result.to_text())
    if frozen and summary["totals"]["render"]:
        from podpipe.errors import FrozenMissError

        n = summary["totals"]["render"]
        raise FrozenMissError(f"--frozen: {n} request{'s are' if n != 1 else ' is'} not in the cache; build them "
                              "where renders may be paid for (and persist or share the cache)")


@cli.command()
@_backend_option
@click.option("--refresh", is_flag=True, help="Fetch the Gemini voice list again (needs GEMINI_API_KEY).")
@click.option("--search", metavar="TEXT", default=None,
              help="Only the voices whose line (name, type, language, description) contains TEXT, in any case.")
@_cache_option
def voices(backend, refresh, search, cache_dir):
    """List the voices a spec can use, with their character (or their offline stand-in).

    With an API key, the gemini backend lists every voice the API offers (the 30 prebuilt voices, the
    Extended Voice Library and your custom voices, for 3.8 models) and keeps the list in the cache
    directory, so `podpipe validate` knows library names offline. Without a key it shows the kept list, or
    the 30 prebuilt voices.

    \b
    Examples:
      podpipe voices
      podpipe voices --backend gemini --search british
      podpipe voices --backend gemini --refresh     # fetch the library list again
      podpipe voices --backend espeak               # the offline stand-in of each voice

    \b
    Output of the library listing (name, type, language, description):
      Zephyr               prebuilt   en-US  Bright
      Amberly              prebuilt   en-GB  Warm, mid-pitched storyteller
      voice_3f9c1a0b       prompted   en-US  My designed narrator
    """
    from podpipe.backends import backend_class, default_backend_name
    from podpipe.cache import resolve_cache_dir

    name = backend or ("gemini" if refresh else default_backend_name())
    listing = backend_class(name).listing(resolve_cache_dir(cache_dir), refresh=refresh)
    needle = (search or "").casefold()
    shown = [line for line in listing.lines if needle in line.casefold()]
    for line in shown:
        click.echo(line)
    _err(f"{len(shown)} of {len(listing.lines)} voices" + (f"; {listing.note}" if listing.note else ""))


@cli.command()
@click.argument("text")
@click.option("-v", "--voice", default=None, help="Voice for a single speaker, e.g. Kore.")
@click.option("--speaker", "speakers", multiple=True, metavar="NAME:VOICE",
              help="Multi-speaker: repeat for each speaker; TEXT holds 'Name: line' lines.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Audio file to write (.wav or .mp3).")
@click.option("--style", default=None, help="Director's note, e.g. 'warm and slow'.")
@click.option("--model", default=None, help="Gemini TTS model (default gemini-3.8-flash-tts).")
@click.option("--temperature", type=click.FloatRange(0, 2), default=None)
@click.option("--language", default=None, help="BCP-47 language, e.g. en-US.")
@_backend_option
@_cache_option
@_scheduling_options
def say(text, voice, speakers, output, style, model, temperature, language, backend, cache_dir, rpm, attempts,
        timeout):
    """Speak TEXT into one audio file, without writing a spec.

    \b
    Examples:
      podpipe say "Hello and welcome." -v Kore -o hello.mp3
      podpipe say $'Alex: Hi Sam!\\nSam: Hi Alex.' --speaker Alex:Zephyr --speaker Sam:Puck -o hi.wav
    """
    from podpipe.commands.progress import ClickProgress
    from podpipe.commands.say import say as run_say

    out = run_say(text, output, voice=voice, speakers=speakers, style=style, model=model,
                  temperature=temperature, language=language, backend=backend, cache_dir=cache_dir,
                  timeout=timeout, rpm=rpm, attempts=attempts, progress=ClickProgress(notes_only=True))
    click.echo(f"wrote {out.output} ({out.duration:.1f} s{'' if out.rendered else ', from the cache'})")


@cli.command()
def schema():
    """Print the episode JSON Schema (for editors and other tools).

    \b
    Example:
      podpipe schema > episode.schema.json
    """
    from podpipe.spec import load_schema

    click.echo(json.dumps(load_schema(), indent=2, ensure_ascii=False))


@cli.group()
def cache():
    """Inspect and maintain the render cache.

    \b
    Examples:
      podpipe cache info
      podpipe cache verify --remove
      podpipe cache prune episodes/*.yaml --older-than 30d
    """


@cache.command("info")
@_cache_option
def cache_info_cmd(cache_dir):
    """Show where the cache is and what it holds.

    \b
    Example:
      podpipe cache info --cache-dir ci-cache
    """
    from podpipe.cache import FileStore, cache_info, resolve_cache_dir

    info = cache_info(FileStore(resolve_cache_dir(cache_dir)))
    click.echo(f"cache:   {info.root}")
    click.echo(f"entries: {info.entries} ({info.total_bytes / 1e6:.1f} MB, {info.total_seconds / 60:.1f} min of audio)")
    for (backend_name, model), count in sorted(info.by_backend_model.items()):
        click.echo(f"  {backend_name:<8} {model:<32} {count}")


@cache.command("verify")
@_cache_option
@click.option("--remove", is_flag=True, help="Delete damaged entries and stray temp files.")
def cache_verify_cmd(cache_dir, remove):
    """Check every entry fully (header, length, checksum); exit 1 if any is damaged (and not removed).

    \b
    Examples:
      podpipe cache verify
      podpipe cache verify --remove    # delete damaged entries: the next build renders them again
    """
    from podpipe.cache import FileStore, resolve_cache_dir, verify

    result = verify(FileStore(resolve_cache_dir(cache_dir)), remove=remove)
    for name, reason in result.problems:
        click.echo(f"{'removed' if remove else 'damaged'}: {name}: {reason}")
    click.echo(f"{result.ok} entries ok, {len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}"
               + (f", {result.in_progress} write(s) in progress" if result.in_progress else ""))
    if result.problems and not remove:
        sys.exit(ExitCode.FAILED)


@cache.command("prune")
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--older-than", default=None, metavar="AGE", help="Drop entries created longer ago: 90m, 12h, 30d.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@_cache_option
def cache_prune_cmd(specs, older_than, dry_run, cache_dir):
    """Drop cache entries that SPECS no longer reference, or that are older than AGE.

    With both, an entry goes only when it is unreferenced AND old, so a render a spec still uses is never
    dropped. SPECS are compiled for every backend, so drafts and paid renders are kept alike.

    \b
    Examples:
      podpipe cache prune episodes/*.yaml --dry-run
      podpipe cache prune --older-than 30d
    """
    from podpipe.cache import FileStore, prune, resolve_cache_dir
    from podpipe.commands.plan import referenced_keys
    from podpipe.errors import UsageError

    if not specs and not older_than:
        raise UsageError("cache prune: give SPECS (keep what they reference), --older-than AGE, or both")
    keep = referenced_keys(specs) if specs else None
    age = _parse_age(older_than) if older_than else None
    result = prune(FileStore(resolve_cache_dir(cache_dir)), keep=keep, older_than=age, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(result.removed)} entr{'ies' if len(result.removed) != 1 else 'y'} "
               f"({result.bytes_freed / 1e6:.1f} MB)")


def _parse_age(text: str) -> float:
    from podpipe.errors import UsageError

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise UsageError(f"--older-than {text!r}: give a number with a unit, e.g. 90m, 12h, 30d") from None


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
