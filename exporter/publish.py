"""`static-edge push BUNDLE org/name`: verify a bundle, refresh its model card and upload it to the Hugging Face hub.

Exactly the bundle's files go up in one commit: the files its manifest lists, the manifest and README.md
(nothing else that happens to be in the folder, such as a `web/` page). They are copied into a private
staging folder first and verified there, so what is uploaded is what was verified, and a file that is a link
to somewhere else is read, never written. The card is written into the staging folder and renamed over
the bundle's README.md (never written through a symbolic or hard link, such as a hub-cache blob). The upload
uses huggingface_hub (`HfApi.create_repo` and `create_commit`), so its login (`hf auth login` or HF_TOKEN),
endpoint (HF_ENDPOINT) and large-file handling apply.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from static_edge.exporter.model_card import (
    CARD_FILE,
    CardInfo,
    own_card_metadata,
    write_bundle_card,
)
from static_edge.runtimes.bundle import (
    MANIFEST_FILE,
    BundleError,
    Manifest,
    inside_bundle,
    read_manifest,
    verify_files,
)
from static_edge.runtimes.errors import InputError, StaticEdgeError
from static_edge.runtimes.staging import write_file_atomic


class PublishError(StaticEdgeError):
    """The hub refused the upload (no login, no write access, a bad branch), with the hub's reason."""


@dataclass(frozen=True)
class PushResult:
    """What `push_bundle` uploaded: the repo, the commit that pins it, and the files sent."""

    repo_id: str
    commit: str
    commit_url: str
    files: list[str]


def bundle_upload_files(bundle: str | os.PathLike[str]) -> list[str]:
    """The paths (relative to the bundle) that make up a published bundle, sorted."""
    manifest = read_manifest(bundle)
    return sorted({*manifest.files, MANIFEST_FILE, CARD_FILE})


def push_bundle(
    bundle: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    license: str | None = None,
    api=None,
) -> PushResult:
    """Verify `bundle`, rewrite its README.md for `repo_id`, and upload it in one commit.

    :param revision: branch to commit to (created from main when missing); main when None.
    :param license: the card's licence; the existing card's (from the source model) when None.
    :param api: a `huggingface_hub.HfApi` (default: one with the user's login and endpoint).
    :raises InputError: for a repo id that is not "namespace/name".
    :raises BundleError: for a bundle that is incomplete or fails its hashes (nothing is uploaded).
    :raises PublishError: when the hub refuses.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    from static_edge.runtimes.hub import HUB_ID

    if not HUB_ID.match(repo_id):
        raise InputError(f"{repo_id!r} is not a hub repo id; expected namespace/name, e.g. my-org/my-model")
    bundle = Path(bundle)
    verify_files(bundle, read_manifest(bundle))  # errors name the bundle's own files
    with tempfile.TemporaryDirectory(prefix="static-edge-push-") as folder:
        staging = Path(folder)
        manifest = stage_bundle(bundle, staging)
        previous = own_card_metadata(bundle)
        info = CardInfo(
            model_id=repo_id,
            on_hub=True,
            license=license or previous.get("license"),
            base_model=previous.get("base_model"),
        )
        card = write_bundle_card(staging, info)
        _replace_file(card, Path(bundle) / CARD_FILE)
        files = bundle_upload_files(staging)
        message = commit_message or f"static-edge bundle ({manifest.dims} dims, {', '.join(manifest.variants)})"
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(staging / name)) for name in files]
        commit = _upload(api or HfApi(), repo_id, operations, message, private, revision)
    return PushResult(repo_id=repo_id, commit=commit.oid, commit_url=commit.commit_url, files=files)


def stage_bundle(bundle: Path, staging: Path) -> Manifest:
    """Copy the manifest and the files it lists from `bundle` into the empty folder `staging`, and verify the
    copies: the staged files are exactly what the manifest records, whatever happens to `bundle` meanwhile.

    Every copy is a new file created in `staging` (never opened through a link), so staging writes nothing
    outside itself; a bundle file that is a symbolic link out of the bundle is refused.

    :raises BundleError: for a file missing, outside the bundle or not matching the manifest.
    """
    _copy_new(inside_bundle(bundle, MANIFEST_FILE), staging / MANIFEST_FILE)
    manifest = read_manifest(staging)
    for name in manifest.files:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_new(inside_bundle(bundle, name), target)
    try:
        verify_files(staging, manifest)
    except BundleError as err:
        raise BundleError(f"{bundle} changed while it was being pushed: {err}") from err
    return manifest


def _copy_new(source: Path, target: Path) -> None:
    """Copy `source`'s bytes into `target`, which must not exist yet (and is never followed if it is a link)."""
    if not source.is_file():
        raise BundleError(f"bundle file missing: {source}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with open(source, "rb") as reader, os.fdopen(os.open(target, flags, 0o644), "wb") as writer:
        shutil.copyfileobj(reader, writer)


def _replace_file(source: Path, target: Path) -> None:
    """Put a copy of `source` at `target` by write-then-rename (a link at `target` is replaced, not followed)."""
    data = source.read_bytes()
    write_file_atomic(target, lambda handle: handle.write(data))


def _upload(api, repo_id: str, operations: list, message: str, private: bool, revision: str | None):
    """Create the repo (and branch) when missing and commit `operations`; returns the hub's CommitInfo.

    :raises PublishError: when the hub refuses or cannot be reached.
    """
    import httpx
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        api.create_repo(repo_id, private=True if private else None, exist_ok=True)  # None: the org default
        if revision not in (None, "main"):
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        commit = api.create_commit(
            repo_id,
            operations=operations,
            commit_message=message,
            revision=revision,
        )
    except OfflineModeIsEnabled as err:
        raise PublishError(f"cannot upload to {repo_id}: HF_HUB_OFFLINE is set; unset it to push") from err
    except httpx.TransportError as err:  # no route to the hub: DNS, refused connection, timeout
        raise PublishError(f"cannot reach the hub to upload {repo_id}: {err}") from err
    except HfHubHTTPError as err:
        reason = str(err).splitlines()[0]
        hint = " (log in with `hf auth login` or set HF_TOKEN)" if err.response.status_code in (401, 403) else ""
        raise PublishError(f"the hub refused the upload to {repo_id}: {reason}{hint}") from err
    return commit


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    """The `push` command's options."""
    parser.add_argument("bundle", type=Path, help="bundle folder written by `static-edge export`")
    parser.add_argument("repo_id", help="hub repo to upload to, namespace/name (created when missing)")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", "--branch", dest="revision", help="branch to commit to (default: main)")
    parser.add_argument("--commit-message", help="the commit's message (default: what the bundle holds)")
    parser.add_argument("--license", help="licence in the model card (default: the source model's)")


def run_push(args: argparse.Namespace) -> int:
    """Upload the bundle and print the commit to pin."""
    from static_edge.runtimes.console import console, done

    with console.status(f"uploading {args.bundle} to {args.repo_id}"):
        result = push_bundle(
            args.bundle,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
            license=args.license,
        )
    done("pushed", f"{len(result.files)} files to {result.commit_url}")
    console.print(f'pin it: load("{result.repo_id}", revision="{result.commit}")')
    return 0
