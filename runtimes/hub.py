"""Bundles on the Hugging Face hub: tell a hub id from a local path, and download one pinned to a commit.

`load("org/name")` comes here when "org/name" is not a local folder. The download goes through
`huggingface_hub.snapshot_download` (its cache, its token, its offline mode); the files are then
verified against the bundle's manifest like any local bundle.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from static_edge.runtimes.bundle import BundleError
from static_edge.runtimes.staging import current_umask

# The hub's own rule for repo ids (huggingface_hub.utils.validate_repo_id): namespace/name of
# letters, digits, "-", "_" and "."; no "--" or "..", not starting or ending with "-" or ".".
_NAME = r"(?![.-])(?!.*(--|\.\.))[\w.-]{1,96}(?<![.-])"
HUB_ID = re.compile(rf"^{_NAME}/{_NAME}$")
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
    :raises BundleError: when the hub (or the offline cache) cannot provide it, with the hub's reason.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=BUNDLE_PATTERNS))
    except (LocalEntryNotFoundError, RepositoryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        hint = " (HF_HUB_OFFLINE is set and the bundle is not in the local cache)" if offline else ""
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BundleError(
            f"bundle folder not found: {repo_id}, and the Hugging Face hub could not provide it as a repo id{hint}: "
            f"{reason}"
        ) from err
    # snapshot_download returns <cache>/snapshots/<commit>, whose files are symlinks into the cache's blobs
    origin = HubOrigin(repo_id=repo_id, revision=revision, commit=folder.name)
    return materialize(folder, bundle_cache() / repo_id.replace("/", "--") / origin.commit), origin


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
