"""The `static-edge` command line: one table of commands, each imported only when it runs.

Each command is a record (name, module, help, extra). Its module defines `add_<name>_arguments(parser)`
and `run_<name>(args) -> int` and defers heavy imports (onnx, torch, Streamlit) into `run_<name>`.
`static-edge --help` imports none of the modules; `static-edge CMD ...` imports only CMD's.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One `static-edge` subcommand."""

    name: str
    module: str
    help: str
    extra: str | None = None
    """The pip extra the command needs beyond the base install (its modules are checked before it runs)."""


COMMANDS: tuple[Command, ...] = (
    Command(
        "quickstart", "static_edge.quickstart", "distill a default model offline, export, check and time it", "train"
    ),
    Command("export", "static_edge.exporter.cli", "export a static model to a verified ONNX bundle"),
    Command("check", "static_edge.exporter.cli", "parity report of a bundle against its source model"),
    Command("push", "static_edge.exporter.publish", "upload a bundle and its model card to the Hugging Face hub"),
    Command("encode", "static_edge.runtimes.cli", "encode texts with a bundle"),
    Command(
        "info", "static_edge.runtimes.bundle_info", "a bundle's variants: size, speed here, which target loads which"
    ),
    Command("web", "static_edge.runtimes.cli", "write a browser search page next to a bundle"),
    Command("serve", "static_edge.runtimes.server", "OpenAI-compatible embedding server", "serve"),
    Command("distill", "static_edge.trainer.cli", "distill a static model from a transformer teacher", "train"),
    Command("pretrain", "static_edge.trainer.cli", "pre-train a static table on a teacher's sentence vectors", "train"),
    Command("train", "static_edge.trainer.cli", "contrastive Matryoshka training of a static model", "train"),
    Command("eval", "static_edge.trainer.cli", "STS Spearman and retrieval nDCG@10 per dimension", "train"),
    Command(
        "bench", "static_edge.bench", "encode throughput vs Sentence Transformers, model2vec, transformers", "bench"
    ),
    Command("demo", "static_edge.demo_app.cli", "start the Streamlit demo", "demo"),
)

PACKAGE = "static-edge"
"""The distribution whose metadata (pyproject.toml's optional-dependencies, as installed) names each extra's needs."""


def extra_requirements(extra: str) -> list[str]:
    """The distributions `pip install static-edge[extra]` adds on this platform, read from the installed package's
    metadata, so the install hint never drifts from pyproject.toml; [] when the metadata cannot be read."""
    from importlib.metadata import PackageNotFoundError, metadata

    from packaging.requirements import Requirement  # a dependency of huggingface_hub, in the base install

    try:
        lines = metadata(PACKAGE).get_all("Requires-Dist") or []
    except PackageNotFoundError:
        return []
    names: list[str] = []
    for line in lines:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": extra}) or marker.evaluate({"extra": ""}):
            continue  # a base requirement, another extra's, or one for another platform
        if requirement.name == PACKAGE:  # an extra made of extras (`all`)
            names += [name for inner in sorted(requirement.extras) for name in extra_requirements(inner)]
        else:
            names.append(requirement.name)
    return list(dict.fromkeys(names))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one (not for flags and options that default to nothing)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return action.help or ""
        return super()._get_help_string(action)


def missing_extra(command: Command) -> str | None:
    """The install hint for a command whose extra is not installed, or None when it is."""
    if command.extra is None:
        return None
    missing = [name for name in extra_requirements(command.extra) if not _installed(name)]
    if not missing:
        return None
    return (
        f"`static-edge {command.name}` needs the {command.extra} extra (missing: {', '.join(missing)}); "
        f"install it with: pip install 'static-edge[{command.extra}]' (from a clone: pip install '.[{command.extra}]')"
    )


def _installed(name: str) -> bool:
    """The distribution is installed and its top-level modules can be found (one removed or hidden counts as
    missing)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution(name).files or []
    except PackageNotFoundError:
        return False
    modules = {
        file.parts[0].split(".")[0]
        for file in files
        if file.suffix in (".py", ".so", ".pyd") and not file.parts[0].endswith((".dist-info", ".data", ".."))
    }
    return all(importlib.util.find_spec(module) is not None for module in modules if module.isidentifier())


def build_parser(selected: str | None = None, *, extra_checked: bool = False) -> argparse.ArgumentParser:
    """The parser; only the `selected` command's module is imported to add its arguments, and only when its extra
    is installed (`extra_checked`: the caller has just checked, as `main` does: the check reads package metadata)."""
    from static_edge import __version__

    parser = argparse.ArgumentParser(
        prog="static-edge",
        description="Train static embedding models, export them to small verified ONNX bundles, run them anywhere.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"static-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help, formatter_class=HelpFormatter)
        if command.name == selected and (extra_checked or missing_extra(command) is None):
            module = importlib.import_module(command.module)
            getattr(module, f"add_{command.name.replace('-', '_')}_arguments")(p)
            p.set_defaults(run=getattr(module, f"run_{command.name.replace('-', '_')}"))
    return parser


def _selected(argv: Sequence[str]) -> Command | None:
    """The command named by the first argument that is not an option."""
    names = {c.name: c for c in COMMANDS}
    first = next((a for a in argv if not a.startswith("-")), None)
    return names.get(first) if first else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `static-edge` console script: exit 2 with one line for a user error."""
    from static_edge.runtimes.console import error_line

    argv = list(sys.argv[1:] if argv is None else argv)
    command = _selected(argv)
    hint = missing_extra(command) if command else None
    if hint:
        error_line(hint)
        return 2
    args = build_parser(command.name if command else None, extra_checked=True).parse_args(argv)
    from static_edge.runtimes.errors import StaticEdgeError

    try:
        return args.run(args)
    except StaticEdgeError as err:
        error_line(err)
        return 2
    except OSError as err:  # a read-only folder, a full disk, a port in use: the OS's reason, in one line
        error_line(_os_error(err))
        return 1
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130


def _os_error(err: OSError) -> str:
    reason = err.strerror or str(err)
    where = f": {err.filename}" if err.filename else ""
    return f"{reason}{where}" if err.strerror else reason


if __name__ == "__main__":
    sys.exit(main())
