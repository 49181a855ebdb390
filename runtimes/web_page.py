"""Write the browser runtime and a search page next to a bundle (`BUNDLE/web/`).

The page's default lite engine needs only files shipped in this package (the runtime's ES modules and
a vendored copy of @huggingface/tokenizers): no npm on the user's side. `ort=True` adds onnxruntime-web
(engine "ort", `?engine=ort`), copied from npm's node_modules. The corpus ships encoded (`web_corpus`), so the
page only encodes queries. `web_server` serves the page locally.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

from static_edge.runtimes import load
from static_edge.runtimes.bundle import bundle_digest, read_manifest
from static_edge.runtimes.errors import InputError, OutputFolderError
from static_edge.runtimes.samples import sample_corpus
from static_edge.runtimes.staging import exit_on_sigterm, write_file_atomic
from static_edge.runtimes.web_corpus import BINARY_FILE, CORPUS_MANIFEST, VectorKind, choose_kind, corpus_files

WEB_SOURCE = Path(__file__).parent / "web"
NODE_MODULES_ENV = "STATIC_EDGE_NODE_MODULES"
PAGE_FILES = ("index.html", "page.css", *sorted(path.name for path in WEB_SOURCE.glob("*.js")))
"""The page and the runtime (every ES module beside it), shipped in the Python package (package-data)."""
PAGE_HTML = "index.html"
MODULE_SUFFIXES = (".js", ".mjs")
IMPORT_MAP_JSON = re.compile(r"<script type=\"importmap\">(.*?)</script>", re.DOTALL)
CORPUS_META = '<meta name="static-edge-corpus" content="{digest}">'
"""Where the page finds the sha256 of `corpus-manifest.json`, which names the sha256 of every corpus file."""
MODULE_TAG = re.compile(r"(<script type=\"module\" src=|<link rel=\"modulepreload\" href=)\"([^\"]+)\">")
LITE_VENDOR_FILES = ("tokenizers.min.mjs", "tokenizers.LICENSE.txt")
"""Vendored in `runtimes/web/vendor/` (and the Python package): all the lite page needs besides PAGE_FILES."""
# file in node_modules -> name under web/vendor/; only for the "ort" engine
ORT_VENDOR_FILES = {
    "onnxruntime-web/dist/ort.wasm.min.mjs": "ort.wasm.min.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs": "ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm": "ort-wasm-simd-threaded.wasm",
}


def node_modules(required: tuple[str, ...] = tuple(ORT_VENDOR_FILES)) -> Path:
    """Where the npm packages are: $STATIC_EDGE_NODE_MODULES, else `runtimes/web/node_modules`.

    :raises FileNotFoundError: with the npm command that installs them.
    """
    folder = Path(os.environ.get(NODE_MODULES_ENV) or WEB_SOURCE / "node_modules")
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the onnxruntime-web engine needs npm packages; {folder} lacks {missing[0]}. Run "
            f"`npm ci --prefix {WEB_SOURCE}` (or point {NODE_MODULES_ENV} at a node_modules), or leave out --ort: "
            "the default lite page needs no npm"
        )
    return folder


def write_web_page(
    bundle: str | os.PathLike[str],
    corpus: list[str] | None = None,
    ort: bool = False,
    vectors: VectorKind = "auto",
) -> Path:
    """Write `BUNDLE/web/` (page, ES modules, vendored tokenizer, the corpus and its vectors) and return its path.

    The corpus is encoded here, with the variant the page loads (the manifest's `default_variant`), and shipped
    as int8 vectors (plus packed sign bits above `web_corpus.BINARY_ABOVE_BYTES`), so the page never encodes it.
    Every file is written next to its destination and renamed over it, so a symlink planted at a
    destination is replaced, never written through; a `web/` or `web/vendor/` that is a symlink is refused.

    :param corpus: passages the page searches; the package's sample corpus when None.
    :param ort: also vendor onnxruntime-web from node_modules (for `?engine=ort`).
    :param vectors: "int8", "binary" (bits ranked first, int8 rescores) or "auto" (binary for large corpora).
    :raises BundleError: when `bundle` is not a (verified) bundle.
    :raises InputError: for an empty corpus.
    :raises OutputFolderError: when web/ or web/vendor/ is a symlink or not a folder.
    :raises FileNotFoundError: when `ort` and onnxruntime-web is not installed.
    """
    bundle = Path(bundle)
    manifest = read_manifest(bundle)  # a clear error for a folder that is not a bundle
    corpus = sample_corpus() if corpus is None else [line for line in corpus if line.strip()]
    if not corpus:
        raise InputError("the corpus is empty: give at least one sentence for the page to search")
    choose_kind(len(corpus), manifest.dims, vectors)  # an unknown kind fails before anything is written
    modules = node_modules() if ort else None
    web = bundle / "web"
    vendor = web / "vendor"
    for folder in (web, vendor):
        _make_plain_folder(folder)
    files = {name: (WEB_SOURCE / name).read_bytes() for name in PAGE_FILES if name != PAGE_HTML}
    files.update({f"vendor/{name}": (WEB_SOURCE / "vendor" / name).read_bytes() for name in LITE_VENDOR_FILES})
    if modules is not None:
        files.update({f"vendor/{name}": (modules / source).read_bytes() for source, name in ORT_VENDOR_FILES.items()})
    files.update(encoded_corpus(bundle, manifest.default_variant, corpus, vectors))
    files[PAGE_HTML] = page_html((WEB_SOURCE / PAGE_HTML).read_text(encoding="utf-8"), files).encode("utf-8")
    stale = (BINARY_FILE, *(f"vendor/{name}" for name in ORT_VENDOR_FILES.values()))
    _refuse_folders_at(web, [*files, *stale])
    with exit_on_sigterm():  # SIGTERM unwinds, so no temporary file stays behind in web/
        for name in stale:
            if name not in files:  # left by an earlier page (a larger corpus, --ort): nothing would check it
                (web / name).unlink(missing_ok=True)
        for name, data in files.items():  # index.html last: it names the others' hashes
            _write_file(web / name, data)
    return web


def encoded_corpus(bundle: Path, variant: str, corpus: list[str], vectors: VectorKind = "auto") -> dict[str, bytes]:
    """The page's corpus files (`web_corpus.corpus_files`): `corpus` encoded by the bundle's `variant`."""
    digest = bundle_digest(bundle)
    model = load(bundle, variant=variant, sha256=digest)  # the vectors are recorded as this very bundle's
    return corpus_files(corpus, model.encode(corpus), variant, digest, vectors)


def subresource_integrity(data: bytes) -> str:
    """The Subresource Integrity value of `data` (sha384, base64), as browsers check it."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def page_html(template: str, files: dict[str, bytes]) -> str:
    """The page with integrity metadata for every JavaScript module it may load (`files`: web/ path -> bytes).

    The import map gets an "integrity" map (Chromium 127+ checks every module import against it, dynamic
    imports included), and the page's module script and modulepreload links get integrity attributes (which
    browsers without import-map integrity check too). A module whose bytes changed after `static-edge web`
    wrote it is then refused by the browser, and the page's inline watcher says so in the page. The corpus
    manifest's sha256 goes into the page's `static-edge-corpus` meta tag, so the page can verify the corpus too.
    """
    modules = {name: data for name, data in files.items() if name.endswith(MODULE_SUFFIXES)}
    hashes = {f"./{name}": subresource_integrity(data) for name, data in modules.items()}
    match = IMPORT_MAP_JSON.search(template)
    if match is None:
        raise ValueError(f"{PAGE_HTML} has no import map")  # a packaging bug, not a user error
    imports = json.loads(match.group(1))
    imports["integrity"] = hashes
    template = template[: match.start(1)] + json.dumps(imports, separators=(", ", ": ")) + template[match.end(1) :]

    def tag(found: re.Match[str]) -> str:
        value = hashes.get(found.group(2))
        return found.group(0) if value is None else f'{found.group(1)}"{found.group(2)}" integrity="{value}">'

    html = MODULE_TAG.sub(tag, template)
    if CORPUS_MANIFEST in files:
        digest = hashlib.sha256(files[CORPUS_MANIFEST]).hexdigest()
        html = html.replace(CORPUS_META.format(digest=""), CORPUS_META.format(digest=digest))
    return html


def _make_plain_folder(folder: Path) -> None:
    if folder.is_symlink():
        raise OutputFolderError(f"{folder} is a symlink; refusing to write through it (remove it and run again)")
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder} exists and is not a folder")
    folder.mkdir(exist_ok=True)


def _refuse_folders_at(web: Path, names: list[str]) -> None:
    """Fail, before anything is written, when a file the page writes or removes is a folder in `web`."""
    for name in names:
        if (web / name).is_dir() and not (web / name).is_symlink():  # a symlink is replaced, never followed
            raise OutputFolderError(f"{web / name} is a folder where static-edge web writes a file (remove it)")


def _write_file(target: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `target`, then rename it over `target` (never through a link)."""
    write_file_atomic(target, lambda handle: handle.write(data))
