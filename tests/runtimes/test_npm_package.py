"""Packaging of the browser runtime: the npm package (`npm pack` of runtimes/web, imported from its tarball in
a Chromium page through an import map, and in Node) and the Python wheel (the lite page needs no npm)."""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from browser_pages import LocalOnlyPage, assert_node_matches_python, served

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.bundle import bundle_digest
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.web_page import LITE_VENDOR_FILES, PAGE_FILES, WEB_SOURCE, node_modules

pytestmark = pytest.mark.slow  # end to end: npm pack, tsc, Node and a wheel build

REPO = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']""")
BARE = {"@huggingface/tokenizers"}
PACKAGE_FOLDERS = ("static_edge", "runtimes", "exporter", "trainer", "demo_app")
PAGE_SCRIPT = """
import { StaticEmbedder, VectorIndex, WorkerEmbedder } from "static-edge-web";
window.encodeWith = async (url, options, texts) => {
  const model = await StaticEmbedder.load(url, options);
  const vectors = await model.encode(texts);
  return { ids: await model.tokenize(texts), vectors: vectors.map((v) => Array.from(v)),
           kind: model.constructor.name, workerClass: typeof WorkerEmbedder, index: typeof VectorIndex };
};
window.packageReady = true;
"""
NODE_SCRIPT = """
import { StaticEmbedder } from "static-edge-web";
const [url, variant, textsJson] = process.argv.slice(2);
const model = await StaticEmbedder.load(url, { variant });
const texts = JSON.parse(textsJson);
const vectors = await model.encode(texts);
process.stdout.write(JSON.stringify({ ids: model.tokenize(texts), vectors: vectors.map((v) => Array.from(v)) }));
"""


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """`npm pack` of runtimes/web, extracted: returns the package folder."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    out = tmp_path_factory.mktemp("npm-pack")
    result = subprocess.run(
        [npm, "pack", "--ignore-scripts", "--json", "--pack-destination", str(out)],
        cwd=WEB_SOURCE,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    tarball = out / json.loads(result.stdout)[0]["filename"]
    with tarfile.open(tarball) as archive:
        archive.extractall(out / "extracted", filter="data")
    return out / "extracted" / "package"


def test_tarball_holds_the_runtime_and_its_declarations_only(packed):
    """Tarball holds the runtime and its declarations only."""
    manifest = json.loads((packed / "package.json").read_text())
    files = sorted(p.name for p in packed.iterdir())
    assert manifest["type"] == "module" and manifest["types"] == "./types/static-edge.d.ts"
    assert manifest["exports"]["."] == {"types": "./types/static-edge.d.ts", "default": "./static-edge.js"}
    assert list(manifest["dependencies"]) == ["@huggingface/tokenizers"]
    assert manifest["peerDependenciesMeta"]["onnxruntime-web"]["optional"] is True
    assert "vendor" not in files and "node_modules" not in files and "index.html" not in files
    assert {"static-edge.js", "worker.js", "types", "README.md"} <= set(files)
    for js in packed.glob("*.js"):  # bundler-friendly: relative imports of its own files, or bare package names
        code = re.sub(r"^\s*//.*$|/\*.*?\*/", "", js.read_text(), flags=re.MULTILINE | re.DOTALL)
        for specifier in IMPORT.findall(code):
            assert specifier.startswith("./") and (packed / specifier).is_file() or specifier in BARE, (js, specifier)
    declared = {p.name.removesuffix(".d.ts") for p in (packed / "types").glob("*.d.ts")}
    assert declared == {p.stem for p in packed.glob("*.js")} - {"worker"}  # every module the entry imports
    declarations = "".join(p.read_text() for p in (packed / "types").glob("*.d.ts"))
    for name in ("class StaticEmbedder", "class WorkerEmbedder", "class VectorIndex", "function cosine"):
        assert name in declarations


CONSUMER_TS = """
import { StaticEmbedder, VectorIndex, WorkerEmbedder, cosine } from "static-edge-web";
import type { LoadOptions, SearchHit, Variant } from "static-edge-web";

export async function demo(url: string): Promise<number> {
  const variant: Variant = "int2";
  const options: LoadOptions = { variant, engine: "ort", onProgress: ({ loaded, total }) => loaded / total };
  const model: StaticEmbedder = await StaticEmbedder.load(url, { variant: "int4", sha256: "00" });
  await (await StaticEmbedder.load(url, options)).dispose();
  const inWorker: WorkerEmbedder = await StaticEmbedder.load(url, { worker: true });
  const ids: number[][] = model.tokenize(["a"]);
  const [a]: Float32Array[] = await model.encode(["a"], { batchSize: 8 });
  const [b] = await inWorker.encode(["b"]);
  const bits: Uint8Array = await model.encodeBinary(["a"]);
  const index = new VectorIndex(inWorker, { binary: true });
  await index.add(["a", "b"]);
  const hits: SearchHit[] = await index.search("a", 1);
  return cosine(a, b) + ids.length + bits.length + hits[0].score + model.dims + inWorker.loadMs;
}
"""


@pytest.mark.parametrize(
    "mistake",
    [
        "",
        "const wrong: string = (await StaticEmbedder.load('x')).dims;",
        "await StaticEmbedder.load('x', { variant: 'q3' });",
        "await StaticEmbedder.load('x', { engine: 'webgpu' });",
        "const vectors: number[] = await (await StaticEmbedder.load('x')).encode(['a']);",
    ],
    ids=["valid", "dims-is-a-number", "unknown-variant", "unknown-engine", "encode-gives-float32-arrays"],
)
def test_the_type_declarations_check_a_consumer_and_catch_its_mistakes(tmp_path, packed, mistake):
    """tsc --strict over a TypeScript file that uses the package as its README says: the declarations type-check
    a correct use (both embedders share one declared interface) and reject a wrong one."""
    try:
        folder = node_modules(("typescript/bin/tsc", "@huggingface/tokenizers/package.json"))
    except FileNotFoundError as err:
        pytest.skip(str(err))
    shutil.copytree(packed, tmp_path / "node_modules" / "static-edge-web")
    (tmp_path / "consumer.ts").write_text(
        CONSUMER_TS + (f"export async function bad() {{ {mistake} }}\n" if mistake else "")
    )
    result = subprocess.run(
        [
            "node",
            str(folder / "typescript" / "bin" / "tsc"),
            "--strict",
            "--noEmit",
            "--target",
            "es2022",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "consumer.ts",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if mistake:
        assert result.returncode != 0 and "consumer.ts" in result.stdout, result.stdout
    else:
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def package_site(tmp_path_factory, packed, st_unigram):
    """A served folder: the extracted package and @huggingface/tokenizers under node_modules/, a bundle, and a
    page whose import map resolves the bare specifiers through each package's own `exports`."""
    root = tmp_path_factory.mktemp("package-site")
    shutil.copytree(packed, root / "node_modules" / "static-edge-web")
    tokenizers = node_modules(("@huggingface/tokenizers/package.json",)) / "@huggingface" / "tokenizers"
    shutil.copytree(tokenizers, root / "node_modules" / "@huggingface" / "tokenizers")
    bundle = export(st_unigram, root / "bundle", ExportOptions(int8=True, int4=True))

    def entry(package: str) -> str:
        exports = json.loads((root / "node_modules" / package / "package.json").read_text())["exports"]["."]
        target = exports["default"] if "default" in exports else exports["browser"]["import"]
        return f"/node_modules/{package}/{target.removeprefix('./')}"

    imports = {name: entry(name) for name in ("static-edge-web", "@huggingface/tokenizers")}
    app = root / "app"
    app.mkdir()
    (app / "app.js").write_text(PAGE_SCRIPT)
    (app / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>npm package</title>'
        f'<script type="importmap">{json.dumps({"imports": imports})}</script>'
        '<script type="module" src="./app.js"></script></head><body></body></html>'
    )
    with served(root) as base:
        yield root, base, bundle


@pytest.mark.browser
@pytest.mark.parametrize("options", [{"variant": "int4"}, {"variant": "int8", "worker": True}])
def test_packed_module_encodes_in_chromium_like_python(chromium, package_site, options):
    """The tarball's module, imported by bare specifier in a page, gives Python's ids and vectors (also in a worker)."""
    _, base, bundle = package_site
    page = LocalOnlyPage(chromium)
    page.page.goto(f"{base}/app/index.html")
    page.page.wait_for_function("() => window.packageReady === true")
    result = page.page.evaluate(
        "([url, options, texts]) => window.encodeWith(url, options, texts)", ["/bundle/", options, PARITY_TEXTS]
    )
    python = load(bundle, variant=options["variant"])
    assert result["kind"] == ("WorkerEmbedder" if options.get("worker") else "StaticEmbedder")
    assert result["ids"] == python.tokenizer.encode(PARITY_TEXTS)
    assert np.abs(np.array(result["vectors"], dtype=np.float32) - python.encode(PARITY_TEXTS)).max() <= 1e-5
    assert any(path.startswith("/node_modules/static-edge-web/") for path in page.requests)
    page.close()


def test_packed_module_runs_in_node(tmp_path, package_site):
    """Node resolves the package by its `exports` and encodes a bundle served on 127.0.0.1 (no Cache Storage)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    root, base, bundle = package_site
    script = root / "node-check.mjs"  # beside node_modules/, so the bare specifier resolves
    script.write_text(NODE_SCRIPT)
    texts = [t for t in PARITY_TEXTS if t]
    result = subprocess.run(
        [node, str(script), f"{base}/bundle/", "int4", json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_node_matches_python(result, load(bundle, variant="int4"), texts)


def test_wheel_ships_the_lite_page(tmp_path, st_bundle):
    """The wheel holds every file of the lite page; from the unpacked wheel alone, with no node_modules,
    `write_web_page` writes a complete page."""
    source = tmp_path / "source"  # a copy, so the build leaves no build/ folder in the repository
    skip = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info")
    for name in PACKAGE_FOLDERS:
        shutil.copytree(REPO / name, source / name, ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("static_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in PAGE_FILES:
        assert f"static_edge/runtimes/web/{name}" in names
    for name in LITE_VENDOR_FILES:
        assert f"static_edge/runtimes/web/vendor/{name}" in names
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    bundle = shutil.copytree(st_bundle, tmp_path / "bundle", ignore=shutil.ignore_patterns("web"))
    code = (
        "import sys; from static_edge.runtimes import web_page as w; "
        "assert w.WEB_SOURCE.is_relative_to(sys.argv[2]), w.WEB_SOURCE; "
        "print(w.write_web_page(sys.argv[1]))"
    )
    # -S: no site processing, so the editable install's path hook cannot shadow the unpacked wheel;
    # the venv's site-packages is still importable (numpy, tokenizers) through PYTHONPATH, after the wheel
    path = os.pathsep.join([str(unpacked), *site.getsitepackages()])
    env = {**os.environ, "PYTHONPATH": path, "STATIC_EDGE_NODE_MODULES": str(tmp_path / "none")}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, str(bundle), str(unpacked)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    web = bundle / "web"
    assert sorted(p.name for p in (web / "vendor").iterdir()) == sorted(LITE_VENDOR_FILES)
    assert all((web / name).is_file() for name in PAGE_FILES)


@pytest.mark.browser
def test_readme_example_runs_in_chromium(chromium, package_site, packed):
    """The README's ten-line example, pointed at a test bundle and its real digest, runs from the tarball."""
    root, base, bundle = package_site
    (example,) = re.findall(r"^```js\n(.*?)^```$", (packed / "README.md").read_text(), flags=re.MULTILINE | re.DOTALL)
    assert len(example.strip().splitlines()) <= 12
    code = example.replace('"/models/my-bundle/"', '"/bundle/"').replace(
        "<the digest `static-edge export` printed>", bundle_digest(bundle)
    )
    (root / "app" / "readme.js").write_text(code + "\nwindow.readmeDone = true;\n")
    page = LocalOnlyPage(chromium)
    logged = []
    page.page.on("console", lambda message: logged.append(message))
    page.page.goto(f"{base}/app/index.html")
    page.page.wait_for_function("() => window.packageReady === true")
    page.page.evaluate("() => import('./readme.js')")
    page.page.wait_for_function("() => window.readmeDone === true")
    assert not page.errors, page.errors
    progress = [m.text for m in logged if m.text.startswith("onnx/")]
    _, loaded, _, total = progress[-1].split()  # "onnx/model_q4.onnx LOADED / TOTAL"
    assert int(loaded) == int(total) == load(bundle).manifest.files["onnx/model_q4.onnx"]["bytes"]
    hits = logged[-1].args[0].json_value()
    docs = ["It will rain tomorrow.", "The match ended 2-1.", "Stocks fell sharply."]
    scores = load(bundle, variant="int4").similarity(["weather forecast"], docs)[0]
    assert [hit["text"] for hit in hits] == [docs[i] for i in np.argsort(-scores, kind="stable")[:2]]
    page.close()
