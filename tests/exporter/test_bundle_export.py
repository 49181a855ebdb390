"""The output folder of `static-edge export` (exporter/bundle_export.py, through runtimes/staging.py): an export never
destroys what is not a bundle, has one winner, leaves no staging folder behind (not even when killed) and writes
ordinary permissions."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.exporter.check import check_bundle
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.bundle import MANIFEST_FILE, sha256_file

# Runs `static-edge export` in a child process, slowed after the bundle is staged so that a test can
# signal it (or race a second export against it) while the staging folder exists.
SLOW_EXPORT = textwrap.dedent(
    """
    import os, signal, sys, time
    # A background job of a non-interactive shell starts with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: give this child Python's own handler, as a terminal would, whoever started the tests.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import static_edge.exporter.bundle_export as bundle_export
    original = bundle_export.write_bundle
    def slow_write_bundle(source, folder, *args, **kwargs):
        manifest = original(source, folder, *args, **kwargs)
        print("STAGED", folder, flush=True)
        time.sleep(float(os.environ["SLOW_EXPORT_SECONDS"]))
        return manifest
    bundle_export.write_bundle = slow_write_bundle
    from static_edge.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its sha256: what must stay untouched."""
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _start_slow_export(tmp_path: Path, model: Path, output: Path, seconds: float) -> subprocess.Popen:
    script = tmp_path / "slow_export.py"
    script.write_text(SLOW_EXPORT)
    env = {**os.environ, "SLOW_EXPORT_SECONDS": str(seconds)}
    return subprocess.Popen(
        [sys.executable, str(script), "export", str(model), "--dims", "8", "-o", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, stopped as a whole in `_stop`
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _wait_until_staged(process: subprocess.Popen) -> Path:
    line = process.stdout.readline()
    assert line.startswith("STAGED"), (line, process.stderr.read() if process.poll() is not None else "")
    return Path(line.split(" ", 1)[1].strip())


# --force replaces a bundle only


def _assert_force_refused(capsys, source: Path, output: Path, message: str, kept: Path) -> None:
    """`static-edge export SOURCE -o OUTPUT --force` exits 2 with an error saying `message` (no traceback) and leaves
    every file under `kept` as it was."""
    before = _snapshot(kept)
    assert main(["export", str(source), "-o", str(output), "--force"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _snapshot(kept) == before


def test_force_never_replaces_the_source_model(st_wordpiece, tmp_path, capsys):
    """Force never replaces the source model."""
    source = shutil.copytree(st_wordpiece, tmp_path / "model")
    _assert_force_refused(capsys, source, source, "refusing to write", kept=source)


def test_force_never_replaces_a_folder_that_holds_the_source(st_wordpiece, tmp_path, capsys):
    """Force never replaces a folder that holds the source."""
    parent = tmp_path / "work"
    source = shutil.copytree(st_wordpiece, parent / "model")
    (parent / "notes.txt").write_text("mine")
    _assert_force_refused(capsys, source, parent, "refusing to write", kept=parent)


def test_force_never_replaces_a_folder_that_is_not_a_bundle(st_wordpiece, tmp_path, capsys):
    """Force never replaces a folder that is not a bundle."""
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"\xff\xd8 not really")
    (other / MANIFEST_FILE).write_text("{not json")  # a file of that name is not enough: it must be readable
    _assert_force_refused(capsys, st_wordpiece, other, "is not a static-edge bundle", kept=other)


def test_output_that_is_a_symlink_is_refused(st_wordpiece, tmp_path, capsys):
    """Output that is a symlink is refused."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    assert main(["export", str(st_wordpiece), "-o", str(tmp_path / "link"), "--force"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert list(target.iterdir()) == []


def test_force_replaces_an_existing_bundle(st_wordpiece, tmp_path):
    """Force replaces an existing bundle."""
    out = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=8))
    export(st_wordpiece, out, ExportOptions(dims=16, overwrite=True))
    assert read_manifest(out).dims == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no retired, staging or lock file left


# concurrent exports to one folder


@pytest.mark.slow  # end to end: export in a child process
def test_two_concurrent_exports_have_exactly_one_winner(st_wordpiece, tmp_path):
    """Two concurrent exports have exactly one winner."""
    out = tmp_path / "shared-bundle"
    first = _start_slow_export(tmp_path, st_wordpiece, out, seconds=4)
    second = None
    try:
        _wait_until_staged(first)  # the first holds the lock now
        second = _start_slow_export(tmp_path, st_wordpiece, out, seconds=0)
        results = [p.wait(timeout=120) for p in (first, second)]
        errors = [p.stderr.read() for p in (first, second)]
    finally:
        for process in (first, second):
            if process is not None:
                _stop(process)
    assert sorted(results) == [0, 2], errors
    loser = errors[results.index(2)]
    # the loser sees the winner at work, or (started late on a busy machine) the winner's finished bundle
    assert "another static-edge process is writing" in loser or "already exists" in loser, loser
    assert "Traceback" not in loser
    assert len(loser.strip().splitlines()) == 1
    assert load(out).encode(["one winner"]).shape == (1, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared-bundle", "slow_export.py"]


# killed exports leave nothing behind


@pytest.mark.slow  # end to end: export in a child process
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_signalled_export_removes_its_staging_folder(st_wordpiece, tmp_path, sig, code):
    """Signalled export removes its staging folder."""
    out = tmp_path / "bundle"
    process = _start_slow_export(tmp_path, st_wordpiece, out, seconds=120)
    try:
        staging = _wait_until_staged(process)
        assert staging.is_dir() and staging.name.startswith(".bundle.partial-")
        process.send_signal(sig)
        assert process.wait(timeout=60) == code
    finally:
        _stop(process)
    assert not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow_export.py"]  # no bundle, staging or lock


def test_stale_staging_folders_of_killed_runs_are_removed_by_the_next_export(st_wordpiece, tmp_path):
    """Stale staging folders of killed runs are removed by the next export."""
    stale = [tmp_path / ".out.partial-4242-deadbeef", tmp_path / ".out.old-4242-deadbeef"]
    for folder in stale:
        (folder / "onnx").mkdir(parents=True)
        (folder / "onnx" / "model.onnx").write_bytes(b"\0" * 1024)
    (tmp_path / ".out.lock").write_text("")  # a SIGKILLed run's lock file: flock died with it
    unrelated = tmp_path / ".other.partial-1-cafe"
    unrelated.mkdir()
    export(st_wordpiece, tmp_path / "out", ExportOptions(dims=8))
    assert not any(folder.exists() for folder in stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.partial-1-cafe", "out"]


@pytest.mark.slow  # end to end: export in a child process
def test_a_killed_export_leaves_a_folder_the_next_run_cleans(st_wordpiece, tmp_path):
    """SIGKILL cannot be caught: the staging folder stays until the next export of the same output."""
    out = tmp_path / "bundle"
    process = _start_slow_export(tmp_path, st_wordpiece, out, seconds=120)
    try:
        staging = _wait_until_staged(process)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        _stop(process)
    assert staging.is_dir()
    export(st_wordpiece, out, ExportOptions(dims=8))
    assert not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "slow_export.py"]


# ordinary permissions


def _modes(folder: Path) -> tuple[set[int], set[int]]:
    files = {stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}
    folders = {stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")] if p.is_dir()}
    return files, folders


@pytest.mark.parametrize(("umask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_bundle_permissions_follow_the_umask(st_wordpiece, tmp_path, umask, file_mode, folder_mode):
    """Bundle permissions follow the umask."""
    previous = os.umask(umask)
    try:
        out = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=8, int8=True))
        assert _modes(out) == ({file_mode}, {folder_mode})
        # check rewrites the manifest by write-then-rename: it must keep the same mode
        check_bundle(out, write=True)
        assert stat.S_IMODE((out / MANIFEST_FILE).stat().st_mode) == file_mode
        assert _modes(out) == ({file_mode}, {folder_mode})
    finally:
        os.umask(previous)
