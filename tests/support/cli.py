"""Running the ``podpipe`` command in-process (click's CliRunner), as the end-to-end tests do."""

from __future__ import annotations

from click.testing import CliRunner, Result

from podpipe.cli import cli


def run(*args: str, code: int | None = 0) -> Result:
    """``podpipe ARGS``; asserts the exit code unless ``code`` is None (the caller looks itself)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result
