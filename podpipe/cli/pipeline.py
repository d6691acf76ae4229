"""The pipeline's commands, ``podpipe build``, ``validate``, ``plan``, ``voices``, ``say``, ``schema``: options in,
``podpipe.commands`` called, results printed (a build's progress by ``cli.progress``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from podpipe.cache.takes import MAX_RETAKES
from podpipe.cli.group import (SPECS, _backend_option, _cache_option, _err, _outside_option, _print_warnings,
                               _remote_options, _remote_timeout_option, _scheduling_options, _strict_option, cli)


@cli.command()
@SPECS
@_backend_option
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, envvar="PODPIPE_JOBS", show_envvar=True,
              help="Requests rendered at once.")
@click.option("--mix-jobs", type=click.IntRange(1, 64), default=None, envvar="PODPIPE_MIX_JOBS", show_envvar=True,
              help="Episodes mixed at once, each in its own process, while renders go on (default: one per "
                   "core; 1: one after another in this process, after the renders).")
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
@_remote_timeout_option
@click.option("--retakes", type=click.IntRange(0, MAX_RETAKES), default=None, envvar="PODPIPE_RETAKES",
              show_envvar=True,
              help="New takes for a take that fails review (default: the spec's review: retakes, else 2; 0: none). "
                   "A line whose every take fails is kept, flagged, and fails --strict with exit 4.")
@click.option("--review-cached", is_flag=True,
              help="Judge the cached takes again by the review of now (e.g. after tuning review:), from the "
                   "measures stored with them: flags set and cleared, nothing rendered. With --retakes N, a take "
                   "that passed before and fails now is re-rolled (the old take kept as rejected).")
def build(specs, backend, jobs, mix_jobs, rpm, quota_wait, rate_limit_url, attempts, timeout, force, frozen,
          cache_dir, only, report, quiet, verbose, allow_outside, strict, shard, remote_cache, remote_mode,
          remote_timeout, retakes, review_cached):
    """Validate, render what is not cached, and mix every episode in SPECS.

    \b
    Examples:
      podpipe build episodes/*.yaml
      podpipe build -j 8 --report build/report.json episodes/ep01.yaml
      podpipe build --mix-jobs 4 episodes/*.yaml  # mix 4 episodes at once
      podpipe build --frozen episodes/*.yaml     # CI: never spend API quota
      podpipe build --shard 2/4 episodes/*.yaml  # CI matrix job 2 of 4
      podpipe build --review-cached episodes/*.yaml  # after tuning review: judge the cached takes again
    """
    from podpipe.commands import BuildOptions
    from podpipe.commands import build as run_build
    from podpipe.cli.progress import ClickProgress
    from podpipe.commands.report import write_report
    from podpipe.errors import RenderError

    shares = 1  # --shard K/N: one of N builds sharing the key's quota
    if shard:
        from podpipe.commands.shard import parse_shard, request_counts, select

        chosen = parse_shard(shard)
        shares = chosen[1]
        picked = select(specs, chosen, weights=request_counts(specs, backend, allow_outside))
        _err(f"shard {shard.strip()}: {len(picked)} of {len(specs)} spec{'s' if len(specs) != 1 else ''}")
        specs = picked
    options = BuildOptions(backend=backend, jobs=jobs, mix_jobs=mix_jobs, rpm=rpm, quota_wait=quota_wait,
                           rate_limit_url=rate_limit_url, shares=shares, attempts=attempts,
                           timeout=timeout, force=force, frozen=frozen, cache_dir=cache_dir, only=tuple(only),
                           allow_outside=allow_outside, strict=strict, remote_cache=remote_cache,
                           remote_mode=remote_mode, remote_timeout=remote_timeout, retakes=retakes,
                           review_cached=review_cached)
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
@click.option("--with-dependents", is_flag=True,
              help="Treat SPECS as changed files: a show file stands for every episode that extends it "
                   "(what the pre-commit hook runs).")
def validate(specs, allow_outside, strict, cache_dir, with_dependents):
    """Check SPECS against the schema and the semantic rules; exit 2 on any error.

    Voices are checked by the backend that owns the spec's model, against the voice list `podpipe voices`
    may have kept in the cache directory.

    \b
    Examples:
      podpipe validate episodes/*.yaml
      podpipe validate --strict episodes/*.yaml    # CI: warnings fail too
      podpipe validate --with-dependents episodes/shows/weekly.yaml  # the episodes extending it
    """
    from podpipe import backends
    from podpipe.cache import resolve_cache_dir
    from podpipe.spec import load_episodes

    if with_dependents:
        from podpipe.commands.dependents import with_dependents as dependents

        specs = dependents(specs)
        if not specs:
            click.echo("0 specs valid (no episode extends the changed files)")
            return

    result = load_episodes(specs, root=Path.cwd(), allow_outside=allow_outside, strict=strict,
                           cache_root=resolve_cache_dir(cache_dir), rules=backends)
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
@_remote_timeout_option
def plan(specs, backend, cache_dir, only, as_json, frozen, allow_outside, strict, remote_cache, remote_mode,
         remote_timeout):
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
                                           remote_mode=remote_mode, remote_timeout=remote_timeout))
    _print_warnings(result.warnings)
    for note in result.notes:
        _err(note)
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
@click.option("--refresh", is_flag=True, help="Fetch the backend's live voice list again (e.g. gemini's, with "
                                             "GEMINI_API_KEY); without --backend, that of the default model's backend.")
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
    from podpipe import backends
    from podpipe.cache import resolve_cache_dir

    # --refresh fetches a live list: that of the backend a spec's default model belongs to
    owner = backends.model_owner(None) if refresh and not backend else None
    name = backend or (owner.name if owner else backends.default_backend_name())
    listing = backends.backend_class(name).listing(resolve_cache_dir(cache_dir), refresh=refresh)
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
@click.option("--model", default=None, help="TTS model; its backend checks the voices (default: the default "
                                           "backend family's model, e.g. gemini-3.8-flash-tts).")
@click.option("--temperature", type=click.FloatRange(0, 2), default=None)
@click.option("--language", default=None, help="BCP-47 language, e.g. en-US.")
@_backend_option
@_cache_option
@_scheduling_options
def say(text, voice, speakers, output, style, model, temperature, language, backend, cache_dir, rpm, quota_wait,
        rate_limit_url, attempts, timeout):
    """Speak TEXT into one audio file, without writing a spec.

    \b
    Examples:
      podpipe say "Hello and welcome." -v Kore -o hello.mp3
      podpipe say $'Alex: Hi Sam!\\nSam: Hi Alex.' --speaker Alex:Zephyr --speaker Sam:Puck -o hi.wav
    """
    from podpipe.cli.progress import ClickProgress
    from podpipe.commands.say import say as run_say

    out = run_say(text, output, voice=voice, speakers=speakers, style=style, model=model,
                  temperature=temperature, language=language, backend=backend, cache_dir=cache_dir,
                  timeout=timeout, rpm=rpm, quota_wait=quota_wait, rate_limit_url=rate_limit_url,
                  attempts=attempts,
                  progress=ClickProgress(notes_only=True))
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
