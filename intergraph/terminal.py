"""What every command of the ``intergraph`` tool shares: the consoles, progress bars, and :class:`App`, a
Typer app whose commands report an :class:`IntergraphError` as one line on stderr (exit status 2); any other
exception is a bug and keeps its traceback."""
from __future__ import annotations

import functools
from typing import Iterable

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .errors import IntergraphError

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class App(typer.Typer):
    """A Typer app whose every command reports :class:`IntergraphError` in one line."""

    def __init__(self, **kwargs):
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorate(f):
            @functools.wraps(f)
            def reported(*a, **k):
                try:
                    return f(*a, **k)
                except IntergraphError as e:
                    fail(str(e))

            register(reported)
            return f

        return decorate


def progress_bar(description: str = "", fields: str = "", disable: bool = False) -> Progress:
    """A rich progress bar on stderr (plain lines when stderr is not a terminal; nothing when ``disable``)."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if fields:
        columns.append(TextColumn(fields))
    return Progress(*columns, TimeRemainingColumn(), console=err, transient=False, disable=disable)


def progress_over(items: Iterable, description: str):
    """Iterate ``items`` with a progress bar."""
    items = list(items)
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def report_failures(failed: list[tuple[str, str]], done: int = 1) -> None:
    """List the inputs a batch job skipped, with the reason; exit with status 1 when it did nothing at all."""
    for path, problem in failed:
        err.print(f"  [yellow]skipped[/yellow] {path}: {problem}", highlight=False, soft_wrap=True)
    if not done:
        raise typer.Exit(1)


def command_line(ctx) -> str:
    """The running command as the user typed it (the options given on the command line, in the order the
    command defines them), for the results folders that must name the command that made them. ``ctx``: the
    command's ``typer.Context``."""
    import shlex

    parts = ["intergraph", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[param.name]
        if param.param_type_name == "argument":
            parts += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        elif getattr(param, "is_flag", False) and isinstance(value, bool):
            parts.append(param.opts[0] if value else (param.secondary_opts or param.opts)[0])
        else:
            for v in value if isinstance(value, (list, tuple)) else [value]:
                parts += [param.opts[0], str(v)]
    return shlex.join(parts)
