"""`static-edge info`: a bundle's variants with size, speed measured here, and the default each target loads."""

from __future__ import annotations

import json

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes.bundle import read_manifest


def test_info_lists_variants_sizes_speeds_and_defaults(st_wordpiece, tmp_path, capsys):
    """Info lists variants sizes speeds and defaults."""
    bundle = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=32, int8=True, int4=True))
    assert main(["info", str(bundle), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    manifest = read_manifest(bundle)
    by_variant = {v["variant"]: v for v in facts["variants"]}
    assert set(by_variant) == {"fp32", "int8", "int4"}
    assert {v: by_variant[v]["bytes"] for v in by_variant} == manifest.variant_bytes()
    assert all(v["sentences_per_second"] > 0 for v in facts["variants"])
    assert by_variant["fp32"]["default_for"] == ["Python, CPU"] and by_variant["int4"]["default_for"] == ["browser"]
    assert facts["parity"] is None and facts["dims"] == 32

    assert main(["check", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["info", str(bundle), "--no-speed"]) == 0
    shown = capsys.readouterr().out
    assert "parity: passed" in shown and "Python, CPU" in shown and "browser" in shown


def test_info_of_a_missing_bundle_is_one_line(tmp_path, capsys):
    """Info of a missing bundle is one line."""
    assert main(["info", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
