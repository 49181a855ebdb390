"""The lite browser runtime refuses what the Python runtimes refuse (NaN or infinity in a table or its row
scales, values whose vectors would overflow float32, a manifest whose vocab_size is not the table's), the page
of `static-edge web` loads its own modules with integrity metadata, and every such failure shows as text in
the page itself, not only in the console. Driven in Debian's Chromium through playwright."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from browser_pages import LocalOnlyPage, served
from model_builders import rewrite_variant, set_row_scale, set_table_value

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import BundleError, load
from static_edge.runtimes.bundle import MANIFEST_FILE
from static_edge.runtimes.variants import VARIANTS
from static_edge.runtimes.web_page import subresource_integrity, write_web_page

ROW = 37


@pytest.fixture(scope="module")
def site(tmp_path_factory, st_wordpiece):
    """A served folder holding a clean bundle (every variant, with its page); tests add edited copies to it."""
    root = tmp_path_factory.mktemp("lite-integrity")
    export(st_wordpiece, root / "clean", ExportOptions(dims=16, extra_variants=VARIANTS))
    write_web_page(root / "clean")
    with served(root) as base:
        yield root, base


def _copy(site, name: str) -> Path:
    return shutil.copytree(site[0] / "clean", site[0] / name)


def _open_failing(chromium, site, name: str, query: str = "") -> tuple[str, str]:
    """Open a copy's page, which must fail: (window.staticEdge.error, the status text the page shows)."""
    page = LocalOnlyPage(chromium)
    try:
        error = page.open(f"{site[1]}/{name}/web/index.html{query}", expect_error=True)
        status = page.page.locator("#status")
        assert status.is_visible() and "error" in (status.get_attribute("class") or "")
        return error, status.inner_text()
    finally:
        page.close()


def test_the_page_names_every_module_with_its_integrity(site):
    """The page names every module with its integrity."""
    web = site[0] / "clean" / "web"
    html = (web / "index.html").read_text()
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))
    modules = sorted(str(p.relative_to(web)) for p in web.rglob("*") if p.suffix in (".js", ".mjs"))
    assert sorted(k.removeprefix("./") for k in imports["integrity"]) == modules
    for name in modules:
        assert imports["integrity"][f"./{name}"] == subresource_integrity((web / name).read_bytes()), name
    tag = r'<(?:script type="module" src|link rel="modulepreload" href)="([^"]+)" integrity="([^"]+)">'
    tags = re.findall(tag, html)
    assert ("./page.js", imports["integrity"]["./page.js"]) in tags and len(tags) >= 9
    assert all(imports["integrity"][url] == value for url, value in tags)


@pytest.mark.browser
def test_the_clean_page_loads(chromium, site):
    """The clean page loads."""
    page = LocalOnlyPage(chromium)
    page.open(f"{site[1]}/clean/web/index.html")
    assert "error" not in (page.page.locator("#status").get_attribute("class") or "")
    assert "sentences indexed" in page.page.locator("#status").inner_text()
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("module", ["page.js", "lite-engine.js", "embedder.js", "vendor/tokenizers.min.mjs"])
def test_a_changed_page_module_is_refused_and_the_page_says_so(chromium, site, module):
    """A changed page module is refused and the page says so."""
    name = "module-" + module.replace("/", "-").replace(".", "-")
    copy = _copy(site, name)
    with open(copy / "web" / module, "a") as handle:
        handle.write("\nglobalThis.tampered = true;\n")
    error, shown = _open_failing(chromium, site, name)
    assert error and shown.startswith("could not load"), shown


@pytest.mark.browser
@pytest.mark.parametrize(
    ("variant", "edit", "expected"),
    [
        ("fp32", set_table_value(ROW, np.nan, column=2), "embedding_table holds NaN or infinity in row 37"),
        ("fp16", set_table_value(ROW, np.inf, column=2), "embedding_table holds NaN or infinity in row 37"),
        ("int8", set_row_scale(ROW, np.nan), "embedding_row_scales holds NaN or infinity in row 37"),
        ("int4", set_row_scale(ROW, -np.inf), "embedding_row_scales holds NaN or infinity in row 37"),
        ("int2", set_row_scale(ROW, np.nan), "embedding_row_scales holds NaN or infinity in row 37"),
        ("fp32", set_table_value(ROW, 1e20, column=2), "table's row 37 reaches 1.00e+20"),
        ("int8", set_row_scale(ROW, 3e36), "table's row 37 reaches 3.84e+38"),
    ],
)
def test_lite_refuses_tables_python_refuses(chromium, site, variant, edit, expected):
    """Lite refuses tables Python refuses."""
    name = f"{variant}-{expected.split()[-1].replace('+', '')}-{expected.split()[0]}"
    copy = _copy(site, name)
    rewrite_variant(copy, variant, edit)
    with pytest.raises(BundleError, match="row 37"):
        load(copy, variant=variant, backend="numpy")
    error, shown = _open_failing(chromium, site, name, f"?variant={variant}")
    assert expected in error and expected in shown, (error, shown)


@pytest.mark.browser
@pytest.mark.parametrize("change", [+5, -3])
def test_lite_refuses_a_manifest_whose_vocab_size_is_not_the_tables(chromium, site, change):
    """Lite refuses a manifest whose vocab size is not the tables."""
    name = f"vocab{change}"
    copy = _copy(site, name)
    data = json.loads((copy / MANIFEST_FILE).read_text())
    rows = data["vocab_size"]
    data["vocab_size"] = rows + change
    (copy / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="vocab_size"):
        load(copy, variant="int8")
    error, shown = _open_failing(chromium, site, name, "?variant=int8")
    expected = f"the manifest says vocab_size={rows + change} but the int8 table has {rows} rows"
    assert expected in error and expected in shown, (error, shown)
