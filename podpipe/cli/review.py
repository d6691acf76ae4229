"""``podpipe review``: the lines whose takes failed review, to listen to."""

from __future__ import annotations

import json

import click

from podpipe.cli.group import SPECS, _backend_option, _cache_option, _outside_option, cli


@cli.command()
@SPECS
@_backend_option
@_cache_option
@click.option("--flagged", "flagged_only", is_flag=True, help="Only flagged lines (no take passed review).")
@click.option("--json", "as_json", is_flag=True, help="Print the lines as JSON.")
@_outside_option
def review(specs, backend, cache_dir, flagged_only, as_json, allow_outside):
    """List every flagged, re-rolled or picked line of SPECS: its position (mm:ss), the reasons and its takes' files.

    Reads the verdicts stored with the cached takes: nothing is rendered or reviewed again.

    \b
    Examples:
      podpipe review episodes/*.yaml
      podpipe review --flagged --json episodes/ep01.yaml
    """
    from podpipe.commands import BuildOptions
    from podpipe.commands.build import prepare
    from podpipe.commands.review import format_line, review_lines

    prepared = prepare(specs, BuildOptions(backend=backend, cache_dir=cache_dir, allow_outside=allow_outside))
    for warning in prepared.warnings:
        click.echo(str(warning), err=True)
    lines = review_lines(prepared.episodes, prepared.local, flagged_only=flagged_only)
    if as_json:
        click.echo(json.dumps([line.to_record() for line in lines], indent=2, ensure_ascii=False))
        return
    for line in lines:
        click.echo(format_line(line))
    flagged = sum(1 for line in lines if line.flagged)
    picked = sum(1 for line in lines if line.status == "picked")
    click.echo(f"{flagged} flagged, {len(lines) - flagged - picked} re-rolled" + (f", {picked} picked" if picked else ""))
