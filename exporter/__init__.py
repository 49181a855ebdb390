"""static-edge exporter: any static embedding model to a verified ONNX bundle.

>>> from static_edge.exporter import export, ExportOptions, check_bundle
>>> export("sentence-transformers/static-retrieval-mrl-en-v1", "out/retrieval-256",
...        ExportOptions(dims=256, int8=True))
>>> check_bundle("out/retrieval-256").passed
"""

from typing import TYPE_CHECKING

from static_edge.runtimes.lazy import lazy_attributes

if TYPE_CHECKING:
    from static_edge.exporter.bundle_export import ExportError, ExportOptions, export
    from static_edge.exporter.check import ParityReport, check_bundle
    from static_edge.exporter.sources import SourceModelError, StaticSource, read_source

# onnx, tokenizers and safetensors load with the function that needs them, not with the package
__getattr__ = lazy_attributes(
    __name__,
    {
        "ParityReport": "static_edge.exporter.check",
        "check_bundle": "static_edge.exporter.check",
        "ExportError": "static_edge.exporter.bundle_export",
        "ExportOptions": "static_edge.exporter.bundle_export",
        "export": "static_edge.exporter.bundle_export",
        "SourceModelError": "static_edge.exporter.sources",
        "StaticSource": "static_edge.exporter.sources",
        "read_source": "static_edge.exporter.sources",
    },
)

__all__ = [
    "ExportError",
    "ExportOptions",
    "ParityReport",
    "SourceModelError",
    "StaticSource",
    "check_bundle",
    "export",
    "read_source",
]
