"""The ``invdn`` command line: one small module per command group, parsing only; each command builds
typed settings and calls one task (``invdn.tasks``). Options mean the same in every command
(``invdn.cli.common``)."""
from invdn.cli.common import main
from invdn.cli import analysis, data, evaluate, figures, inference, presets, runs, submit, tables, train  # noqa: F401,E402

__all__ = ["main"]
