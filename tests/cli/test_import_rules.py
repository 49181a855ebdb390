"""The floors of docs/architecture.md, pinned: who may import whom, what a command loads, what the wheel holds.

Runtime checks run in a fresh interpreter started in an empty temporary folder, so only the installed
package is importable (not the repository's `benchmarks/` or `tests/`), and they read `sys.modules`
after the command ran.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import static_edge

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("onnx", "onnxruntime", "tokenizers", "torch", "streamlit", "sentence_transformers", "model2vec")
OURS_ABOVE_RUNTIMES = ("static_edge.trainer", "static_edge.demo_app", "static_edge.exporter", "benchmarks")


def _modules_after(code: str, cwd: Path) -> set[str]:
    """Run `code` in a fresh interpreter in `cwd`; return the names in sys.modules afterwards."""
    script = f"{code}\nimport json, sys\nprint('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={**env, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def _loaded(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == r or m.startswith(r + ".") for r in roots))


def _cli(argv: list[str]) -> str:
    """Code that runs `static-edge ARGV` in-process and fails unless it exits 0."""
    return (
        "from static_edge.cli import main\n"
        f"try:\n    code = main({argv!r})\nexcept SystemExit as stop:\n    code = stop.code\n"
        "assert code in (0, None), code\n"
    )


def test_top_level_help_imports_nothing_heavy(tmp_path):
    """Top level help imports nothing heavy."""
    modules = _modules_after(_cli(["--help"]), tmp_path)
    assert _loaded(modules, HEAVY + OURS_ABOVE_RUNTIMES + ("numpy", "static_edge.trainer")) == []
    assert "static_edge.cli" in modules


def test_console_script_help_and_version(tmp_path):
    """Console script help and version."""
    script = Path(sys.executable).with_name("static-edge")
    result = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("export", "check", "encode", "train", "bench", "demo"):
        assert command in result.stdout
    version = subprocess.run([str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert version.stdout.strip() == f"static-edge {static_edge.__version__}"


def test_export_help_imports_no_trainer_demo_benchmarks_or_torch(tmp_path):
    """Export help imports no trainer demo benchmarks or torch."""
    modules = _modules_after(_cli(["export", "--help"]), tmp_path)
    assert _loaded(modules, ("static_edge.trainer", "static_edge.demo_app", "benchmarks", "torch", "streamlit")) == []


@pytest.mark.slow  # end to end: a child process
def test_a_real_export_imports_no_trainer_demo_benchmarks_or_torch(tmp_path, st_wordpiece):
    """A real export imports no trainer demo benchmarks or torch."""
    out = tmp_path / "bundle"
    modules = _modules_after(_cli(["export", str(st_wordpiece), "-o", str(out), "--dims", "32", "--int8"]), tmp_path)
    assert (out / "static_edge.json").is_file() and (out / "onnx" / "model_quantized.onnx").is_file()
    forbidden = ("static_edge.trainer", "static_edge.demo_app", "benchmarks", "torch", "streamlit")
    assert _loaded(modules, forbidden + ("sentence_transformers", "model2vec")) == []
    assert "static_edge.exporter.bundle_export" in modules  # it did run the exporter


@pytest.mark.slow  # end to end: a child process
@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_load_and_encode_with_torch_blocked(tmp_path, st_bundle, backend):
    """`import torch` raises inside the child: encoding must not need it, even indirectly."""
    code = (
        "import sys\n"
        "for name in ('torch', 'sentence_transformers', 'model2vec', 'streamlit'):\n"
        "    sys.modules[name] = None\n"
        "from static_edge import load\n"
        f"vectors = load({str(st_bundle)!r}, backend={backend!r}).encode(['hello world', ''])\n"
        "assert vectors.shape == (2, 128) and vectors[0].any() and not vectors[1].any(), vectors.shape\n"
    )
    modules = _modules_after(code, tmp_path)
    assert _loaded(modules, OURS_ABOVE_RUNTIMES) == []


def _imports(path: Path, package: str) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved against `package`; for
    `from A import B` both A and A.B, since B may be a submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # `from package import name`: name may be a submodule (kept as package.name) or an attribute
            found.update([module, *(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


PACKAGE_FOLDERS = {
    "static_edge": REPO / "static_edge",
    "static_edge.runtimes": REPO / "runtimes",
    "static_edge.exporter": REPO / "exporter",
    "static_edge.trainer": REPO / "trainer",
    "static_edge.demo_app": REPO / "demo_app",
}
BARE_NAMES = ("runtimes", "exporter", "trainer", "demo_app")


def _imports_by_file(package: str) -> dict[str, set[str]]:
    folder = PACKAGE_FOLDERS[package]
    return {str(p.relative_to(REPO)): _imports(p, package) for p in sorted(folder.glob("*.py"))}


def test_the_folders_are_the_installed_packages():
    """The folders are the installed packages."""
    import static_edge.runtimes

    assert Path(static_edge.runtimes.__file__).parent == PACKAGE_FOLDERS["static_edge.runtimes"]


TEST_HELPERS = tuple(p.stem for p in (REPO / "tests").glob("*.py") if p.stem != "conftest")
"""The tests' helper modules (model_builders, server_support, ...), imported by their bare names."""


@pytest.mark.parametrize("package", sorted(PACKAGE_FOLDERS))
def test_imports_are_namespaced_and_never_benchmarks_or_test_helpers(package):
    """Our code is imported as static_edge.<pkg> only, and nothing installed imports the uninstalled benchmarks,
    the tests or a test helper."""
    assert {"model_builders", "server_support"} <= set(TEST_HELPERS)
    for file, names in _imports_by_file(package).items():
        bad = sorted(n for n in names if n.split(".")[0] in (*BARE_NAMES, "benchmarks", "tests", *TEST_HELPERS))
        assert bad == [], f"{file} imports {bad}"


def _benchmark_modules() -> dict[str, Path]:
    """Every module under benchmarks/ by its dotted name (benchmarks.measure.speed -> its file)."""
    files = sorted((REPO / "benchmarks").rglob("*.py"))
    return {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p for p in files}


def test_benchmarks_have_no_import_cycle():
    """No benchmark module imports, directly or through others, a module that imports it back (function-level
    imports count: a cycle there is the same tangle, only deferred)."""
    modules = _benchmark_modules()
    assert {"benchmarks.common", "benchmarks.recipes.english", "benchmarks.measure.speed"} <= set(modules)
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = sorted(n for n in _imports(path, package) if n in modules and n != name)

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, route = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*route, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*route, nxt]))
        return None

    cycles = [route for name in graph if (route := cycle_from(name))]
    assert cycles == [], " -> ".join(cycles[0]) if cycles else ""


def test_recipe_functions_fit_one_screen():
    """No function in benchmarks/recipes/ is over 60 lines (the recipes are read, then rewritten, step by step)."""
    long = []
    for path in sorted((REPO / "benchmarks" / "recipes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []


def test_no_block_of_six_lines_repeats_across_benchmark_files():
    """Shared code lives in one place (benchmarks/common.py, recipes/steps.py, ...): no 6 consecutive code lines
    (blank lines, imports and docstring quotes aside) appear in two benchmark files."""
    where: dict[tuple[str, ...], set[str]] = {}
    for name, path in _benchmark_modules().items():
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        code = [line for line in lines if line and not line.startswith(("import ", "from ", '"""'))]
        for start in range(len(code) - 5):
            where.setdefault(tuple(code[start : start + 6]), set()).add(name)
    repeated = {block: files for block, files in where.items() if len(files) > 1}
    assert not repeated, "\n".join(f"{sorted(files)}:\n  " + "\n  ".join(block) for block, files in repeated.items())


def test_runtimes_imports_nothing_of_ours_outside_runtimes_and_never_torch():
    """Runtimes imports nothing of ours outside runtimes and never torch."""
    for file, names in _imports_by_file("static_edge.runtimes").items():
        ours = sorted(n for n in names if n.split(".")[0] == "static_edge" and not n.startswith("static_edge.runtimes"))
        assert ours == [], f"{file} imports {ours}"
        heavy = sorted(n for n in names if n.split(".")[0] in ("torch", "sentence_transformers", "model2vec"))
        assert heavy == [], f"{file} imports {heavy}"


def test_trainer_never_imports_the_exporter():
    """Trainer never imports the exporter."""
    for file, names in _imports_by_file("static_edge.trainer").items():
        bad = sorted(n for n in names if n.startswith("static_edge.exporter"))
        assert bad == [], f"{file} imports {bad}"


def test_exporter_never_imports_trainer_or_demo_app():
    """Exporter never imports trainer or demo app."""
    for file, names in _imports_by_file("static_edge.exporter").items():
        bad = sorted(n for n in names if n.startswith(("static_edge.trainer", "static_edge.demo_app")))
        assert bad == [], f"{file} imports {bad}"


def test_demo_app_never_imports_the_exporter():
    """Demo app never imports the exporter."""
    for file, names in _imports_by_file("static_edge.demo_app").items():
        bad = sorted(n for n in names if n.startswith("static_edge.exporter"))
        assert bad == [], f"{file} imports {bad}"


def _copy_source(target: Path) -> Path:
    """The repository's files a wheel build reads (and benchmarks/ and tests/, to show they stay out)."""
    ignore = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info", "build", "results", "js", "*.png")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target / name)
    for folder in (*PACKAGE_FOLDERS.values(), REPO / "benchmarks", REPO / "tests"):
        shutil.copytree(folder, target / folder.name, ignore=ignore)
    return target


@pytest.mark.slow  # end to end: a child process
def test_the_wheel_holds_exactly_one_top_level_package(tmp_path):
    """`pip install .` adds `static_edge` and its dist-info, nothing else (no runtimes/, trainer/, benchmarks/)."""
    source = tmp_path / "src"
    source.mkdir()
    _copy_source(source)
    dist = tmp_path / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = dist.glob("static_edge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"static_edge", f"static_edge-{static_edge.__version__}.dist-info"}
    for expected in (
        "static_edge/__init__.py",
        "static_edge/cli.py",
        "static_edge/runtimes/bundle.py",
        "static_edge/runtimes/web/static-edge.js",
        "static_edge/exporter/bundle_export.py",
        "static_edge/trainer/distill.py",
        "static_edge/demo_app/app.py",
    ):
        assert expected in names
    assert not [n for n in names if "node_modules" in n or n.startswith("static_edge/tests")]
    assert f"static_edge-{static_edge.__version__}.dist-info/licenses/LICENSE" in names
