"""Writing output folders and files whole or not at all (runtimes/staging.py): atomic replacement, the lock that
gives concurrent writers one winner, refusals of folders that are not ours, and cleanup of earlier runs."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest

from static_edge.runtimes.errors import OutputFolderError
from static_edge.runtimes.staging import output_lock, staged_folder, write_file_atomic


def _is_ours(folder: Path) -> bool:
    return (folder / "ours.txt").exists()


def _old_output(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "ours.txt").write_text("old")
    return out


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_folder_appears_only_when_the_block_ends(tmp_path):
    """The folder appears only when the block ends."""
    out = tmp_path / "out"
    with staged_folder(out) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".out.partial-")
        (staging / "a.txt").write_text("new")
        assert not out.exists() and (tmp_path / ".out.lock").exists()
    assert (out / "a.txt").read_text() == "new"
    assert _listing(tmp_path) == ["out"]  # no staging folder or lock file left


def test_a_failure_leaves_nothing_and_keeps_the_old_folder(tmp_path):
    """A failure leaves nothing and keeps the old folder."""
    out = _old_output(tmp_path)
    with pytest.raises(RuntimeError, match="half-way"), staged_folder(out, overwrite=True, replaceable=_is_ours) as s:
        (s / "ours.txt").write_text("new")
        raise RuntimeError("half-way")
    assert (out / "ours.txt").read_text() == "old"
    assert _listing(tmp_path) == ["out"]


def test_an_existing_folder_is_replaced_only_once_the_new_one_is_whole(tmp_path):
    """An existing folder is replaced only once the new one is whole."""
    out = _old_output(tmp_path)
    with staged_folder(out, overwrite=True, replaceable=_is_ours) as staging:
        (staging / "ours.txt").write_text("new")
        assert (out / "ours.txt").read_text() == "old"  # readers still see the whole old folder
    assert _listing(out) == ["ours.txt"] and (out / "ours.txt").read_text() == "new"
    assert _listing(tmp_path) == ["out"]  # the retired old folder is gone too


def test_sigterm_during_the_block_exits_143_and_leaves_nothing(tmp_path):
    """SIGTERM during the block exits 143 and leaves nothing."""
    # start from the default action, whatever an earlier test left (ray.init installs its own handler)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with pytest.raises(SystemExit) as exit_info, staged_folder(tmp_path / "out") as staging:
            (staging / "a.txt").write_text("partial")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        assert exit_info.value.code == 128 + signal.SIGTERM
        assert _listing(tmp_path) == []
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the default action is back
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "already exists; pass --force"),
        ({"overwrite": True, "replaceable": lambda folder: False}, "is not a static-edge bundle: refusing"),
        ({"overwrite": True, "replaceable": lambda folder: False, "what": "model"}, "is not a model: refusing"),
    ],
)
def test_an_existing_folder_is_kept_unless_asked_and_ours(tmp_path, options, named):
    """An existing folder is kept unless asked and ours."""
    out = _old_output(tmp_path)
    with pytest.raises(OutputFolderError, match=named), staged_folder(out, **options):
        pytest.fail("the block must not run")
    assert _listing(out) == ["ours.txt"] and (out / "ours.txt").read_text() == "old"
    assert _listing(tmp_path) == ["out"]


def test_the_source_and_folders_holding_it_are_never_written(tmp_path):
    """The source and folders holding it are never written."""
    source = tmp_path / "work" / "model"
    source.mkdir(parents=True)
    for output in (source, tmp_path / "work"):
        with (
            pytest.raises(OutputFolderError, match="it is \\(or contains\\)"),
            staged_folder(output, overwrite=True, protect=[source]),
        ):
            pytest.fail("the block must not run")
    with staged_folder(source / "bundle", protect=[source]) as staging:  # inside the source is not the source
        (staging / "a.txt").write_text("x")
    assert (source / "bundle" / "a.txt").exists()


def test_a_symlink_or_a_file_at_the_destination_is_refused(tmp_path):
    """A symlink or a file at the destination is refused."""
    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OutputFolderError, match="symbolic link"), staged_folder(tmp_path / "link", overwrite=True):
        pytest.fail("the block must not run")
    (tmp_path / "file").write_text("keep")
    with (
        pytest.raises(OutputFolderError, match="exists and is not a folder"),
        staged_folder(tmp_path / "file", overwrite=True),
    ):
        pytest.fail("the block must not run")
    assert (tmp_path / "file").read_text() == "keep" and _listing(target) == []


def test_a_second_writer_of_the_same_folder_fails_at_once(tmp_path):
    """A second writer of the same folder fails at once."""
    out = tmp_path / "out"
    with staged_folder(out) as staging:
        (staging / "winner.txt").write_text("1")
        started = time.monotonic()
        with pytest.raises(OutputFolderError, match="another static-edge process is writing"), staged_folder(out):
            pytest.fail("the block must not run")
        assert time.monotonic() - started < 5  # fails fast, never waits for the lock
        with output_lock(tmp_path / "other"):  # another destination has its own lock
            pass
    assert _listing(out) == ["winner.txt"]


def test_a_folder_that_appears_meanwhile_is_kept(tmp_path):
    """Another program made the folder while ours was being built: it is checked again, and kept."""
    out = tmp_path / "out"
    with pytest.raises(OutputFolderError, match="already exists"), staged_folder(out) as staging:
        (staging / "mine.txt").write_text("mine")
        out.mkdir()
        (out / "theirs.txt").write_text("theirs")
    assert _listing(out) == ["theirs.txt"]
    assert _listing(tmp_path) == ["out"]


def test_a_folder_that_appears_after_the_last_check_is_kept(tmp_path, monkeypatch):
    """Even in the moment between the last check and the rename, a folder that appears is never replaced."""
    from static_edge.runtimes import staging

    out = tmp_path / "out"
    check = staging._check_destination
    calls = []

    def check_then_appear(*args) -> None:
        check(*args)
        calls.append(args)
        if len(calls) == 2:  # the check after the block: the folder appears right after it
            out.mkdir()
            (out / "theirs.txt").write_text("theirs")

    monkeypatch.setattr(staging, "_check_destination", check_then_appear)
    with pytest.raises(OutputFolderError, match="appeared while this command ran"), staged_folder(out) as folder:
        (folder / "mine.txt").write_text("mine")
    assert _listing(out) == ["theirs.txt"]
    assert _listing(tmp_path) == ["out"]


def test_leftovers_of_killed_runs_for_the_same_folder_are_removed(tmp_path):
    """Leftovers of killed runs for the same folder are removed."""
    stale = [tmp_path / ".out.partial-99-abcd", tmp_path / ".out.old-99-abcd"]
    for folder in stale:
        folder.mkdir()
        (folder / "big.bin").write_bytes(b"\0" * 64)
    (tmp_path / ".other.partial-99-abcd").mkdir()  # another destination's: not ours to remove
    with staged_folder(tmp_path / "out") as staging:
        assert not any(folder.exists() for folder in stale)
        (staging / "a.txt").write_text("x")
    assert _listing(tmp_path) == [".other.partial-99-abcd", "out"]


def test_folders_follow_the_umask(tmp_path):
    """Folders follow the umask."""
    previous = os.umask(0o027)
    try:
        with staged_folder(tmp_path / "out") as staging:
            (staging / "sub").mkdir()
    finally:
        os.umask(previous)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out", tmp_path / "out" / "sub")}
    assert modes == {0o750}  # not tempfile's private 0700


def test_write_file_atomic_replaces_whole_files_with_ordinary_modes(tmp_path):
    """Write file atomic replaces whole files with ordinary modes."""
    target = tmp_path / "report.json"
    target.write_text("old")
    previous = os.umask(0o022)
    try:
        write_file_atomic(target, lambda handle: handle.write(b"new"))
    finally:
        os.umask(previous)
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o644

    def fail(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_file_atomic(target, fail)
    assert target.read_text() == "new" and _listing(tmp_path) == ["report.json"]


def test_write_file_atomic_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    """Write file atomic replaces a symlink instead of writing through it."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    (tmp_path / "link.txt").symlink_to(elsewhere)
    write_file_atomic(tmp_path / "link.txt", lambda handle: handle.write(b"mine"))
    assert not (tmp_path / "link.txt").is_symlink() and (tmp_path / "link.txt").read_text() == "mine"
    assert elsewhere.read_text() == "untouched"
