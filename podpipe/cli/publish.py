"""``podpipe publish``: the show's files and feed uploaded to object storage."""

from __future__ import annotations

from pathlib import Path

import click

from podpipe.cli.group import _err, cli
from podpipe.errors import ExitCode


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "to", metavar="URL",
              help="Where to upload: s3://bucket/prefix, gs://bucket/prefix, az://container/prefix or "
                   "file:///path (credentials from the provider's own chain; install podpipe[s3], [gcs], [azure]).")
@click.option("--base-url", metavar="URL",
              help="The public URL that target is served at (a CDN or custom domain), e.g. "
                   "https://cdn.example.org/show: the feed's links and enclosures point there.")
@click.option("--dry-run", is_flag=True, help="List every file as upload or skip, with the reason; write nothing.")
@click.option("--skip-unbuilt", is_flag=True,
              help="Leave episodes that are not built yet out of the feed (default: refuse to publish).")
@click.option("--prune", is_flag=True,
              help="After the feed is live, delete the objects podpipe published that none of the last --keep "
                   "feed revisions points at. Without it nothing is ever deleted.")
@click.option("--keep", type=click.IntRange(min=1), default=5, show_default=True, metavar="N",
              help="With --prune: the feed revisions whose files stay (podcast apps and CDNs may still hold them).")
@click.option("--set-cors", is_flag=True,
              help="Give the bucket of --to the CORS rule web players need (any origin may GET transcripts and "
                   "chapters): set on S3 where the credentials allow; for file://, gs:// and az:// it prints what "
                   "to run. Without SPECS, only that.")
@click.option("--check", "check_url", metavar="FEED_URL",
              help="Check the live show at FEED_URL instead of publishing: HEAD and a Range GET of every "
                   "enclosure, a GET with an Origin header of every transcript and chapters file; lengths, types "
                   "and CORS against the feed, each problem with its fix (exit 1 when there is one).")
@click.option("--allow-flagged", is_flag=True,
              help="Publish episodes with flagged takes too (takes that failed review on every attempt and are not "
                   "accepted in the spec; default: refuse with exit 4).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def publish(specs, to, base_url, dry_run, skip_unbuilt, prune, keep, set_cors, check_url, quiet, allow_flagged):
    """Upload the built episodes of SPECS, their sidecars, the artwork, the show page and the feed.

    Episodes, sidecars and artwork go up under content-addressed names (immutable: a rebuilt file is a new
    URL); only files whose content (sha256) or headers changed are sent; the feed goes last, so subscribers
    never see a feed naming a file that is not there yet. Nothing is deleted unless --prune.

    \b
    Examples:
      podpipe publish episodes/*.yaml --to s3://my-podcast/show --base-url https://cdn.example.org/show
      podpipe publish episodes/*.yaml --to file:///srv/www/show --base-url https://example.org/show --dry-run
      podpipe publish --to s3://my-podcast/show --set-cors
      podpipe publish --check https://cdn.example.org/show/feed.xml
    """
    ctx = click.get_current_context()
    if check_url:
        from podpipe.commands.publish import check_published

        checked = check_published(check_url, on_problem=None if quiet else lambda p: click.echo(p.lines()))
        click.echo(checked.summary())
        ctx.exit(ExitCode.OK if checked.ok else ExitCode.FAILED)
    if not to:
        raise click.UsageError("Missing option '--to' (where to upload: s3://, gs://, az:// or file://).")
    from podpipe.commands.publish import PublishOptions, publish_specs, set_bucket_cors

    if set_cors:
        advice = set_bucket_cors(PublishOptions(to=to, base_url=base_url or ""))
        if advice:
            _err(advice, fg="yellow")
        else:
            click.echo(f"set CORS on the bucket of {to}: any origin may GET and HEAD (with Range)")
        if not specs:
            return
    if not specs:
        raise click.UsageError("Missing argument 'SPECS...' (the episodes to publish).")
    if not base_url:
        raise click.UsageError("Missing option '--base-url' (the public URL the target is served at).")
    options = PublishOptions(to=to, base_url=base_url, dry_run=dry_run, skip_unbuilt=skip_unbuilt,
                             prune=keep if prune else None, allow_flagged=allow_flagged)
    published = publish_specs(specs, options, on_action=None if quiet else lambda action: click.echo(action.line()))
    if not quiet:
        for path in published.pruned:
            click.echo(f"{'would prune' if dry_run else 'pruned'}  {path}")
    for note in published.notes:
        _err(note, fg="yellow")
    click.echo(published.summary())
