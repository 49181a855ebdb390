"""Write a folder (a bundle, a model) so that readers only ever see a whole one, and nothing else is harmed.

One piece of code for every command that writes an output folder (`export`, `distill`, the teacher
assembly): the folder is built in a staging folder beside its destination and renamed into place,
so a failure, Ctrl+C or SIGTERM leaves nothing behind and an existing folder stays until its
replacement is complete. On top of the rename:

- an existing destination is replaced only when asked (`overwrite`) and only when `replaceable` says
  it is ours to replace (a bundle, a model folder) - never a folder that is, or holds, a `protect` path;
- a lock file beside the destination makes concurrent writers of one destination fail fast, with
  one winner;
- staging folders of killed runs (SIGKILL, power loss) are removed by the next run for the same
  destination, which holds the lock, so no live writer owns them;
- folders get ordinary permissions under the user's umask (tempfile's private 0700 is not used).

Hand-written because no library combines atomic directory replacement, ownership checks and a lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from static_edge.runtimes.errors import OutputFolderError

PARTIAL = "partial"
RETIRED = "old"


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask alone must set it to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ordinary_mode(path: Path) -> None:
    """Give a file the mode a plain `open()` would have (0666 less the umask): for files made by mkstemp (0600)."""
    os.chmod(path, 0o666 & ~current_umask())


def write_file_atomic(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write` on a temporary file beside `target`, then rename it over `target`: readers see the old file
    or the whole new one, never a part; a failure removes the temporary file. The new file gets ordinary
    permissions (mkstemp's 0600 is not kept), and a symlink at `target` is replaced, never written through."""

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            write(handle)

    write_path_atomic(target, fill)


def write_path_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """`write_file_atomic` for a writer that takes a path rather than a handle (an ONNX exporter, a quantizer):
    `write(tmp)` fills a temporary file beside `target`, which then replaces `target` whole."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        ordinary_mode(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) while the block runs, so `finally` and `except BaseException` clean up.

    Only in the main thread, and only where SIGTERM still has its default action (a caller's own
    handler is left alone).
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return

    def terminate(signum, frame):  # noqa: ARG001 - the signal module's handler signature
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sibling(output: Path, role: str) -> str:
    return f".{output.name}.{role}-"


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold `.NAME.lock` beside `output`, or fail at once when another process holds it."""
    path = output.with_name(f".{output.name}.lock")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputFolderError(
                f"another static-edge process is writing {output} right now; wait for it or choose another folder"
            ) from None
        # the holder before us may have removed the file between our open and our lock: lock the file on disk
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _remove_stale(output: Path) -> None:
    """Remove staging and retired folders of earlier runs for `output` (we hold its lock: none is live)."""
    for prefix in (_sibling(output, PARTIAL), _sibling(output, RETIRED)):
        for stale in output.parent.glob(prefix + "*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)


def _refuse_protected(output: Path, protect: Sequence[Path]) -> None:
    target = output.resolve()
    for path in protect:
        guarded = Path(path).resolve()
        if guarded == target or target in guarded.parents:
            raise OutputFolderError(f"refusing to write {output}: it is (or contains) {path}, which this command reads")


def _check_destination(output: Path, overwrite: bool, replaceable: Callable[[Path], bool] | None, what: str) -> None:
    if output.is_symlink():
        raise OutputFolderError(f"{output} is a symbolic link; give the real folder to write")
    if not output.exists():
        return
    if not output.is_dir():
        raise OutputFolderError(f"{output} exists and is not a folder")
    if not overwrite:
        raise OutputFolderError(f"{output} already exists; pass --force (overwrite=True) to replace it")
    if replaceable is not None and not replaceable(output):
        raise OutputFolderError(f"{output} is not a {what}: refusing to replace it (only a {what} is replaced)")


@contextlib.contextmanager
def staged_folder(
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    replaceable: Callable[[Path], bool] | None = None,
    protect: Sequence[str | os.PathLike[str]] = (),
    what: str = "static-edge bundle",
) -> Iterator[Path]:
    """Yield an empty folder to build in; when the block ends normally, it becomes `output`.

    :param overwrite: replace an existing `output` (only when `replaceable(output)` is true).
    :param replaceable: says whether an existing folder is one this command may replace.
    :param protect: paths that must not be `output` or inside it (the source being read).
    :param what: how errors name a replaceable folder.
    :raises OutputFolderError: for a destination that exists (without overwrite), is not replaceable,
        is protected, is a symlink, or is being written by another process.
    """
    output = Path(output).absolute()
    _refuse_protected(output, [Path(p) for p in protect])
    output.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(output), exit_on_sigterm():
        _remove_stale(output)
        _check_destination(output, overwrite, replaceable, what)
        staging = output.with_name(_sibling(output, PARTIAL) + f"{os.getpid()}-{secrets.token_hex(4)}")
        staging.mkdir(0o777)  # the umask applies, as for any folder the user makes
        try:
            yield staging
            _check_destination(output, overwrite, replaceable, what)  # a folder may have appeared meanwhile
            _move_into_place(staging, output, overwrite)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _move_into_place(staging: Path, output: Path, overwrite: bool) -> None:
    """Rename the finished folder to `output`; with `overwrite`, an old folder there is replaced only after that
    succeeds. Without it, only the plain rename is tried, which fails on a folder that appeared after the last
    check instead of replacing it."""
    if not overwrite or not output.exists():
        try:
            os.rename(staging, output)  # fails on a non-empty folder that appeared meanwhile: never merged
        except OSError as err:
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise OutputFolderError(f"{output} appeared while this command ran; nothing was replaced") from err
            raise
        return
    retired = output.with_name(_sibling(output, RETIRED) + f"{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(output, retired)
    try:
        os.rename(staging, output)
    except BaseException:
        os.rename(retired, output)
        raise
    shutil.rmtree(retired, ignore_errors=True)
