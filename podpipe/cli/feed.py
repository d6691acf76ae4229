"""``podpipe feed``: the show's RSS feed and page from built episodes."""

from __future__ import annotations

from pathlib import Path

import click

from podpipe.cli.group import SPECS, _err, _outside_option, _strict_option, cli


@cli.command()
@SPECS
@click.option("--base-url", metavar="URL",
              help="The public URL the feed's folder is served at, e.g. https://example.com/podcast; every URL in "
                   "the feed starts with it. Required unless --serve.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the feed here, with index.html (the show page) and the files it links to beside it. "
                   "Without it the feed is printed and nothing is written.")
@click.option("--skip-unbuilt", is_flag=True,
              help="Leave out episodes that are not built (yet) instead of failing.")
@click.option("--serve", is_flag=True,
              help="Preview the show page and feed on a local web server (byte ranges, so chapter links seek; "
                   "CORS, as a host should send it) until Ctrl-C; writes nothing.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="With --serve: the port on 127.0.0.1 (0: any free one).")
@_outside_option
@_strict_option
def feed(specs, base_url, output, skip_unbuilt, serve, port, allow_outside, strict):
    """Write the podcast feed (RSS 2.0 with iTunes and Podcasting 2.0 tags) and show page of built SPECS.

    The show's metadata comes from the feed: section of the show file the episodes extend; each episode
    needs a date:. Episodes are listed newest first; one that is not built is an error (or skipped with
    --skip-unbuilt). Same inputs, same bytes: the feed diffs cleanly in version control.

    \b
    Examples:
      podpipe feed episodes/*.yaml --base-url https://example.com/podcast -o build/feed.xml
      podpipe feed episodes/*.yaml --base-url https://example.com/podcast > feed.xml
      podpipe feed episodes/*.yaml --serve
    """
    notes = lambda message: _err(message, fg="yellow")  # noqa: E731
    if serve:
        if output is not None:
            raise click.UsageError("--serve writes nothing: leave out -o (or write the site with -o, without --serve)")
        from podpipe.commands.feed import preview_server

        server = preview_server(specs, port=port, skip_unbuilt=skip_unbuilt, allow_outside=allow_outside,
                                strict=strict, notes=notes, log=lambda line: _err(line, dim=True))
        click.echo(f"serving the show page at {server.url}/ and the feed at {server.url}/"
                   f"{next(f.path for f in server.files.values() if f.role == 'feed')} (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return
    if not base_url:
        raise click.UsageError("Missing option '--base-url' (the public URL of the feed's folder), or give --serve")
    from podpipe.commands.feed import write_feed

    result = write_feed(specs, base_url, output, skip_unbuilt=skip_unbuilt, allow_outside=allow_outside,
                        strict=strict, notes=notes)
    if result.feed is None:
        click.echo(result.site.feed.read().decode("utf-8"), nl=False)
        return
    n = result.episodes
    copied = f", {result.copied} file{'s' if result.copied != 1 else ''} copied in" if result.copied else ""
    click.echo(f"wrote {output} and {Path(output).parent / 'index.html'}: {n} episode{'s' if n != 1 else ''}"
               f"{copied}; published at {result.site.url(result.site.feed.path)}")
