"""``podpipe publish``: the show's files and feed uploaded to object storage."""

from __future__ import annotations

import click

from podpipe.cli.group import SPECS, _err, cli


@cli.command()
@SPECS
@click.option("--to", "to", metavar="URL", required=True,
              help="Where to upload: s3://bucket/prefix, gs://bucket/prefix, az://container/prefix or "
                   "file:///path (credentials from the provider's own chain; install podpipe[s3], [gcs], [azure]).")
@click.option("--base-url", metavar="URL", required=True,
              help="The public URL that target is served at (a CDN or custom domain), e.g. "
                   "https://cdn.example.org/show: the feed's links and enclosures point there.")
@click.option("--dry-run", is_flag=True, help="List every file as upload or skip, with the reason; write nothing.")
@click.option("--skip-unbuilt", is_flag=True,
              help="Leave episodes that are not built yet out of the feed (default: refuse to publish).")
@click.option("--allow-flagged", is_flag=True,
              help="Publish episodes with flagged takes too (takes that failed review on every attempt and are not "
                   "accepted in the spec; default: refuse with exit 4).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def publish(specs, to, base_url, dry_run, skip_unbuilt, quiet, allow_flagged):
    """Upload the built episodes of SPECS, their sidecars, the artwork, the show page and the feed.

    Only files whose content (sha256) or headers changed are sent; the feed goes last, so subscribers never
    see a feed naming a file that is not there yet. Nothing is deleted.

    \b
    Examples:
      podpipe publish episodes/*.yaml --to s3://my-podcast/show --base-url https://cdn.example.org/show
      podpipe publish episodes/*.yaml --to file:///srv/www/show --base-url https://example.org/show --dry-run
    """
    from podpipe.commands.publish import PublishOptions, publish_specs

    options = PublishOptions(to=to, base_url=base_url, dry_run=dry_run, skip_unbuilt=skip_unbuilt,
                             allow_flagged=allow_flagged)
    published = publish_specs(specs, options, on_action=None if quiet else lambda action: click.echo(action.line()))
    for note in published.notes:
        _err(note, fg="yellow")
    click.echo(published.summary())
