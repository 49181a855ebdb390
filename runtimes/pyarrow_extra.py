"""pyarrow, the `parquet` extra: imported only where Parquet is read or written."""

from __future__ import annotations

from typing import Any

from static_edge.runtimes.errors import InputError


def require_pyarrow(why: str) -> Any:
    """Import pyarrow (with pyarrow.parquet loaded), or fail with the install hint of the `parquet` extra."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule must be loaded for pyarrow.parquet.* below
    except ImportError as err:
        raise InputError(
            f"{why} needs pyarrow; install it with: pip install 'static-edge[parquet]' (or: pip install pyarrow)"
        ) from err
    return pyarrow
