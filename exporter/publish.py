"""`static-edge push BUNDLE org/name`: verify a bundle, refresh its model card and upload it to the Hugging Face hub.

Exactly the bundle's files go up in one commit: the files its manifest lists, the manifest and README.md
(nothing else that happens to be in the folder, such as a `web/` page). The upload uses huggingface_hub
(`HfApi.create_repo` and `create_commit`), so its login (`hf auth login` or HF_TOKEN), endpoint
(HF_ENDPOINT) and large-file handling apply.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from static_edge.runtimes.bundle import MANIFEST_FILE, read_manifest, verify_files
from static_edge.runtimes.errors import InputError, StaticEdgeError


class PublishError(StaticEdgeError):
    """The hub refused the upload (no login, no write access, a bad branch), with the hub's reason."""


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    commit: str
    commit_url: str
    files: list[str]


def bundle_upload_files(bundle: str | os.PathLike[str]) -> list[str]:
    """The paths (relative to the bundle) that make up a published bundle, sorted."""
    from static_edge.exporter.model_card import CARD_FILE

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
    import httpx
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    from static_edge.exporter.model_card import CardInfo, read_card_metadata, write_bundle_card
    from static_edge.runtimes.hub import HUB_ID

    if not HUB_ID.match(repo_id):
        raise InputError(f"{repo_id!r} is not a hub repo id; expected namespace/name, e.g. my-org/my-model")
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    verify_files(bundle, manifest)
    previous = read_card_metadata(bundle)
    info = CardInfo(
        model_id=repo_id,
        on_hub=True,
        license=license or previous.get("license"),
        base_model=previous.get("base_model"),
    )
    write_bundle_card(bundle, info)
    files = bundle_upload_files(bundle)
    api = api or HfApi()
    message = commit_message or f"static-edge bundle ({manifest.dims} dims, {', '.join(manifest.variants)})"
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(bundle / name)) for name in files]
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
    return PushResult(repo_id=repo_id, commit=commit.oid, commit_url=commit.commit_url, files=files)


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="bundle folder written by `static-edge export`")
    parser.add_argument("repo_id", help="hub repo to upload to, namespace/name (created when missing)")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", "--branch", dest="revision", help="branch to commit to (default: main)")
    parser.add_argument("--commit-message", help="the commit's message (default: what the bundle holds)")
    parser.add_argument("--license", help="licence in the model card (default: the source model's)")


def run_push(args: argparse.Namespace) -> int:
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
