"""Terminal output of every command: rich consoles that never read user text or paths as markup.

`[/oops]` in a text, or `x/[/y]` in a path, must print as typed: both consoles have markup off,
and colour comes only from the styled prefixes below.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(highlight=False, markup=False)
err_console = Console(stderr=True, highlight=False, markup=False)


def done(verb: str, what: object) -> None:
    """`wrote OUT`-style line: a green verb, then `what` literally."""
    console.print(Text.assemble((verb, "green"), f" {what}"))


def error_line(message: object) -> None:
    """The one line a user error prints on stderr."""
    err_console.print(Text.assemble(("error: ", "red"), str(message)))


def warning_line(message: object) -> None:
    """A warning on stderr, in the same literal style."""
    err_console.print(Text.assemble(("warning: ", "yellow"), str(message)))
