"""``podpipe studio``: the local web app to listen to episodes, compare takes and fix lines (``podpipe.studio``)."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import click

from podpipe.cli.group import SPECS, _cache_option, _err, cli


@cli.command()
@SPECS
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="The port on 127.0.0.1 (default: any free one).")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@_cache_option
def studio(specs, port, no_browser, cache_dir):
    """Open SPECS in the studio: play the episode, hear a line, try another take, pick the best, fix a line's
    text, style or pronunciation; every decision is saved to the spec as a minimal edit.

    Listens on 127.0.0.1 only; the URL it prints carries a token, and only the project folder (the working
    directory) and the cache are read or written. Needs the studio extra: pip install 'podpipe[studio]'.

    \b
    Examples:
      podpipe studio episodes/*.yaml
      podpipe studio episodes/ep01.yaml --port 8765 --no-browser
    """
    from podpipe.studio.server import serve

    def ready(url: str) -> None:
        click.echo(f"podpipe studio is at {url} (Ctrl-C stops)")
        if not no_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    try:
        serve(specs, root=Path.cwd(), port=port, cache_dir=cache_dir, ready=ready)
    except KeyboardInterrupt:
        _err("studio stopped")
