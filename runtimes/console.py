"""Terminal output of every command: rich consoles that never read user text or paths as markup.

`[/oops]` in a text, or `x/[/y]` in a path, must print as typed: both consoles have markup off,
and colour comes only from the styled prefixes below.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.status import Status
from rich.text import Text


def _literal(renderable: RenderableType | None) -> RenderableType | None:
    return Text(renderable) if isinstance(renderable, str) else renderable


class LiteralStatus(Status):
    """A spinner whose messages (paths, model names) are text, not markup: rich's Status parses strings as markup
    even on a console with markup off."""

    def __init__(self, status: RenderableType, **kwargs: Any) -> None:
        super().__init__(_literal(status), **kwargs)

    def update(self, status: RenderableType | None = None, **kwargs: Any) -> None:
        """Change the message (printed literally) or rich's other spinner settings."""
        super().update(_literal(status), **kwargs)


class LiteralConsole(Console):
    """A console whose `status()` spinner prints its messages literally too."""

    def status(self, status: RenderableType, **kwargs: Any) -> Status:
        """A spinner showing `status` literally, as rich's `Console.status` takes it."""
        return LiteralStatus(status, console=self, **kwargs)


console = LiteralConsole(highlight=False, markup=False)
err_console = LiteralConsole(stderr=True, highlight=False, markup=False)


def done(verb: str, what: object) -> None:
    """`wrote OUT`-style line: a green verb, then `what` literally."""
    console.print(Text.assemble((verb, "green"), f" {what}"))


def error_line(message: object) -> None:
    """The one line a user error prints on stderr (a library's multi-line message is joined into one)."""
    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    err_console.print(Text.assemble(("error: ", "red"), text), soft_wrap=True)  # one line, never wrapped


def warning_line(message: object) -> None:
    """A warning on stderr, in the same literal style."""
    err_console.print(Text.assemble(("warning: ", "yellow"), str(message)), soft_wrap=True)
