"""Bundles on the Hugging Face hub: tell a hub id from a local path, and download one pinned to a commit.

`load("org/name")` comes here when "org/name" is not a local folder. The download goes through
`huggingface_hub.snapshot_download` (its cache, its token, its offline mode); the files are then
verified against the bundle's manifest like any local bundle. `snapshot` is the one rule for reading the
hub cache, used by the exporter for source models too: a cached commit loads offline, and a snapshot
holding a symbolic link out of the cache is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from static_edge.runtimes.bundle import BundleError
from static_edge.runtimes.errors import StaticEdgeError
from static_edge.runtimes.staging import current_umask

# The hub's own rule for repo ids (huggingface_hub.utils.validate_repo_id): namespace/name of
# letters, digits, "-", "_" and "."; no "--" or "..", not starting or ending with "-" or ".".
_NAME = r"(?![.-])(?!.*(--|\.\.))[\w.-]{1,96}(?<![.-])"
HUB_ID = re.compile(rf"^{_NAME}/{_NAME}$")
DEFAULT_CACHE = Path(os.environ.get("STATIC_EDGE_CACHE", Path.home() / ".cache" / "static-edge"))
"""static-edge's own cache folder (assembled teachers, ONNX baselines): $STATIC_EDGE_CACHE, else
~/.cache/static-edge. Downloaded bundles go to `bundle_cache()`."""
BUNDLE_PATTERNS = ["*.json", "onnx/*", "README.md"]
"""What a bundle repo holds that `load` needs (and its card); other files in the repo are not downloaded."""


@dataclass(frozen=True)
class HubOrigin:
    """Where a downloaded bundle came from: the repo, the revision asked for and the commit it resolved to."""

    repo_id: str
    revision: str | None
    commit: str
    """The 40-hex commit of the files that were loaded: pass it as `revision=` to get exactly these again."""


def is_hub_id(name: str | os.PathLike[str]) -> bool:
    """True for "org/name" that is not an existing local path; a path that exists is always local."""
    text = os.fspath(name)
    if Path(text).exists():
        return False
    return bool(HUB_ID.match(text)) and not text.startswith(("~", "."))


def download_bundle(repo_id: str, revision: str | None = None) -> tuple[Path, HubOrigin]:
    """Download (or find in the local cache) the bundle files of `repo_id` at `revision`.

    :returns: the snapshot folder and its origin (the resolved commit is the snapshot folder's name).
    :raises BundleError: when the hub (or the offline cache) cannot provide it, with the hub's reason, or when
        the cached snapshot holds a symbolic link out of the hub cache.
    """
    folder = snapshot(repo_id, revision, BUNDLE_PATTERNS, BundleError, "bundle folder")
    # snapshot_download returns <cache>/snapshots/<commit>, whose files are symlinks into the cache's blobs
    origin = HubOrigin(repo_id=repo_id, revision=revision, commit=folder.name)
    return materialize(folder, bundle_cache() / repo_id.replace("/", "--") / origin.commit), origin


def snapshot(repo_id: str, revision: str | None, patterns: list[str], error: type[StaticEdgeError], what: str) -> Path:
    """The folder of `repo_id` at `revision` in huggingface_hub's cache, downloaded when missing.

    Offline (HF_HUB_OFFLINE) or with the hub unreachable, a cached branch or commit is used as it is:
    huggingface_hub asks the hub for a commit's file list even then (unless it cached the list), so the cache
    answers instead. Shared by `load` (bundles) and `export` / `check` (source models).

    :param error: the error type to raise; `what` names the thing in its message ("bundle folder").
    :raises error: when neither the hub nor the cache can provide it (with the hub's reason), or when a file of
        the snapshot is a symbolic link leading out of the repo's cache folder.
    """
    import httpx
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    def download(local_files_only: bool) -> Path:
        return Path(
            snapshot_download(repo_id, revision=revision, allow_patterns=patterns, local_files_only=local_files_only)
        )

    try:
        try:
            folder = download(local_files_only=False)
        except (OfflineModeIsEnabled, httpx.ConnectError, httpx.TimeoutException):
            folder = download(local_files_only=True)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError, httpx.TransportError) as err:
        hint = f" (HF_HUB_OFFLINE is set and the {what} is not in the local cache)" if hub_offline() else ""
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise error(
            f"{what} not found: {repo_id}, and the Hugging Face hub could not provide it as a repo id{hint}: {reason}"
        ) from err
    refuse_links_out_of_cache(folder, error)
    return folder


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE is set to anything but "" or "0"."""
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


def refuse_links_out_of_cache(folder: Path, error: type[StaticEdgeError]) -> None:
    """Refuse a hub-cache snapshot (`<cache>/models--org--name/snapshots/<commit>`) holding a symbolic link that
    leads out of the repo's cache folder: the cache's own links point into its `blobs/`, and anything else
    would make a load or export read a file the hub never sent (a planted link to a private file).

    :raises error: naming the link and where it leads.
    """
    repo_cache = folder.parent.parent.resolve()
    for parent, folders, files in os.walk(folder):
        for name in [*folders, *files]:
            path = Path(parent) / name
            if path.is_symlink() and not path.resolve().is_relative_to(repo_cache):
                raise error(
                    f"{path} in the Hugging Face cache is a symbolic link to {path.resolve()}, outside the cache's "
                    f"{repo_cache}: refusing to read it (delete {folder} and download it again)"
                )


def bundle_cache() -> Path:
    """Where downloaded bundles live as plain folders: $STATIC_EDGE_CACHE, else beside the hub cache."""
    from huggingface_hub import constants

    return Path(os.environ.get("STATIC_EDGE_CACHE") or Path(constants.HF_HUB_CACHE).parent / "static-edge" / "hub")


def materialize(snapshot: Path, target: Path) -> Path:
    """A folder at `target` with the snapshot's files as real files (hard links to the blobs, else copies).

    The hub cache's snapshot is a tree of symlinks into its blob store, and a bundle refuses any file that
    resolves outside its folder; hard links keep one copy on disk and are ordinary files. Commits never
    change, so an existing `target` is reused (its files are verified against the manifest on every load).
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for source in sorted(snapshot.rglob("*")):
            if source.is_dir():
                continue
            destination = staging / source.relative_to(snapshot)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source.resolve(), destination)
            except OSError:  # another file system, or links not allowed: copy instead
                shutil.copyfile(source, destination)
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; a cache folder is ordinary
        try:
            staging.rename(target)
        except OSError:  # another load of the same commit finished first: use its folder
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
