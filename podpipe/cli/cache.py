"""``podpipe cache info | verify | prune | push | pull``: the cache group."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from podpipe.cli.group import SPECS, _backend_option, _cache_option, _remote_options, cli
from podpipe.errors import ExitCode


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
@_remote_options
def cache_info_cmd(cache_dir, remote_cache, remote_mode):
    """Show where the cache is and what it holds; with a remote cache, its figures too (it is listed).

    \b
    Examples:
      podpipe cache info --cache-dir ci-cache
      podpipe cache info --remote-cache s3://my-bucket/podpipe
    """
    from podpipe.cache.layout import ENV_URL
    from podpipe.commands.cache import info_lines

    with_remote = bool(remote_cache or os.environ.get(ENV_URL)) and remote_mode != "off"
    for line in info_lines(cache_dir, remote_cache, remote_mode, with_remote=with_remote):
        click.echo(line)


@cache.command("push")
@_cache_option
@click.option("--remote-cache", "remote_cache", metavar="URL", default=None,
              help="The shared cache to upload to (also PODPIPE_REMOTE_CACHE).")
def cache_push_cmd(cache_dir, remote_cache):
    """Upload every local entry the remote cache lacks (what a build would have uploaded, had it been set).

    \b
    Example:
      podpipe cache push --remote-cache s3://my-bucket/podpipe
    """
    from podpipe.commands.cache import push

    for line in push(cache_dir, remote_cache):
        click.echo(line)


@cache.command("pull")
@SPECS
@_backend_option
@_cache_option
@click.option("--remote-cache", "remote_cache", metavar="URL", default=None,
              help="The shared cache to download from (also PODPIPE_REMOTE_CACHE).")
def cache_pull_cmd(specs, backend, cache_dir, remote_cache):
    """Download the renders SPECS need that the local cache lacks (e.g. before working offline).

    \b
    Example:
      podpipe cache pull --remote-cache s3://my-bucket/podpipe episodes/*.yaml
    """
    from podpipe.commands.cache import pull

    for line in pull(specs, cache_dir, remote_cache, backend):
        click.echo(line)


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
    from podpipe.commands.cache import parse_age

    age = parse_age(older_than) if older_than else None
    result = prune(FileStore(resolve_cache_dir(cache_dir)), keep=keep, older_than=age, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(result.removed)} entr{'ies' if len(result.removed) != 1 else 'y'} "
               f"({result.bytes_freed / 1e6:.1f} MB)")
