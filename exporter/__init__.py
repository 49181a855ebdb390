"""static-edge exporter: any static embedding model to a verified ONNX bundle.

>>> from exporter import export, ExportOptions, check_bundle
>>> export("sentence-transformers/static-retrieval-mrl-en-v1", "out/retrieval-256",
...        ExportOptions(dims=256, int8=True))
>>> check_bundle("out/retrieval-256").passed
"""

from exporter.check import ParityReport, check_bundle
from exporter.export import ExportError, ExportOptions, export
from exporter.sources import SourceModelError, StaticSource, read_source

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
