"""Errors (runtimes/errors.py) as the CLI prints them: every error a user can cause is one clear line and a
non-zero exit, never a traceback; user text and paths print literally, never as console markup."""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.errors import InputError, StaticEdgeError


@pytest.fixture(scope="module")
def small_bundle(st_wordpiece, tmp_path_factory) -> Path:
    """A 16-dim export of the WordPiece model."""
    return export(st_wordpiece, tmp_path_factory.mktemp("errors") / "b", ExportOptions(dims=16))


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write to: a chmod 0555 folder, or for root (whom modes do not stop) /sys."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        return folder
    folder = Path("/sys/fs")
    try:
        (folder / ".static-edge-probe").mkdir()
    except OSError:
        return folder
    pytest.skip("no read-only folder available to root here")


def test_a_read_only_output_folder(st_wordpiece, tmp_path, capsys):
    """A read only output folder."""
    folder = _read_only_folder(tmp_path)
    assert main(["export", str(st_wordpiece), "--dims", "8", "-o", str(folder / "bundle")]) == 1
    err = _one_error_line(capsys)
    assert str(folder) in err
    assert not (folder / "bundle").exists()


def test_a_full_disk_prints_one_line_and_leaves_nothing(st_wordpiece, tmp_path, monkeypatch, capsys):
    """A full disk prints one line and leaves nothing."""
    import onnx

    def disk_full(model, path, *args, **kwargs):
        Path(path).write_bytes(b"\0" * 100)  # a partial file, as a real full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(onnx, "save_model", disk_full)
    out = tmp_path / "out"
    assert main(["export", str(st_wordpiece), "--dims", "8", "-o", str(out)]) == 1
    err = _one_error_line(capsys)
    assert "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no bundle, staging folder or lock


def test_a_port_already_in_use(small_bundle, tmp_path, capsys):
    """A port already in use."""
    bundle = shutil.copytree(small_bundle, tmp_path / "b")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["web", str(bundle), "--serve", "--port", str(port)]) != 0
    assert f"port {port}" in _one_error_line(capsys)


@pytest.mark.parametrize("batch_size", ["3", 2.5, None, True])
def test_a_batch_size_that_is_not_an_integer(small_bundle, batch_size):
    """A batch size that is not an integer."""
    with pytest.raises(StaticEdgeError, match="batch_size must be an integer"):
        load(small_bundle).encode(["a", "b"], batch_size=batch_size)


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_a_lone_surrogate_names_the_text_and_the_cause(small_bundle, backend):
    """A lone surrogate names the text and the cause."""
    texts = ["fine", "also fine é", "broken \udc80 text"]
    with pytest.raises(InputError, match=r"texts\[2\] holds a lone surrogate '\\udc80' at character 7"):
        load(small_bundle, backend=backend).encode(texts)
    with pytest.raises(InputError, match=r"texts\[0\] holds a lone surrogate"):
        load(small_bundle, backend=backend).encode("\ud800")


def test_user_text_is_printed_literally(small_bundle, capsys):
    """User text is printed literally."""
    assert main(["encode", str(small_bundle), "[/oops]", "[bold]x[/bold]", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "'[/oops]': dims=16" in out and "'[bold]x[/bold]': dims=16" in out


def test_an_output_path_with_brackets_works(st_wordpiece, tmp_path, capsys):
    """An output path with brackets works."""
    out = tmp_path / "x" / "[/y]"
    assert main(["export", str(st_wordpiece), "--dims", "8", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert load(out).encode(["ok"]).shape == (1, 8)


def test_errors_print_paths_with_brackets_literally(tmp_path, capsys):
    """Errors print paths with brackets literally."""
    missing = tmp_path / "[red]not[/red]" / "[/oops]"
    assert main(["check", str(missing)]) == 2
    assert str(missing) in _one_error_line(capsys)


def test_install_hints_keep_their_extra(monkeypatch, capsys):
    """Install hints keep their extra."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    assert main(["demo", "whatever"]) == 2
    assert "pip install 'static-edge[demo]'" in _one_error_line(capsys)


def test_a_long_error_stays_on_one_line(tmp_path, capsys):
    """A long error stays on one line."""
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 12)
    assert main(["encode", str(deep), "text"]) == 2
    assert str(deep) in _one_error_line(capsys)


def test_encode_output_is_finite_for_odd_unicode(small_bundle):
    """Encode output is finite for odd unicode."""
    texts = ["\u200b", "\ufeff", "\U0001f600" * 50, "\x00", "a\u0301", "\u202e reversed", ""]
    assert np.isfinite(load(small_bundle).encode(texts)).all()
