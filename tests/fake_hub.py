"""A tiny in-memory stand-in for the Hugging Face hub's HTTP API, served on 127.0.0.1.

It answers the few endpoints huggingface_hub's real client calls to create a repo, commit files
(preupload + commit, every file as a "regular" upload), resolve a revision, list a tree and download
files, and records every request, so tests can run `push` and `load("org/name")` end to end offline.
Hand-written because no maintained package serves a local hub for tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml


@dataclass
class Repo:
    """One repository of the fake hub: its visibility, branches and files per commit."""

    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    """branch -> commit sha"""
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """commit sha -> the repo's files at that commit"""
    messages: dict[str, str] = field(default_factory=dict)


class FakeHub:
    """`with FakeHub() as hub:` serves on hub.endpoint; hub.repos and hub.requests show what was done."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.validated: list[dict] = []
        """README.md front matters the client sent to /api/validate-yaml"""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of `repo_id` at a branch or commit."""
        repo = self.repos[repo_id]
        return repo.commits[repo.branches.get(revision, revision)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (HubRequestHandler,), {"hub": self})


class HubRequestHandler(BaseHTTPRequestHandler):
    """The hub's HTTP API as huggingface_hub calls it: model info, tree, resolve, create, branch, preupload, commit."""

    hub: FakeHub

    def log_message(self, *args) -> None:
        """Log nothing: keep pytest's output clean."""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), {"X-Error-Code": code})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _route(self):
        path = urlsplit(self.path).path
        self.hub.requests.append((self.command, unquote(path)))
        return [unquote(p) for p in path.strip("/").split("/")]

    def _commit_of(self, repo_id: str, revision: str) -> str | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
            return None
        sha = repo.branches.get(revision, revision)
        if sha not in repo.commits:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return sha

    def do_HEAD(self) -> None:
        """Answer as GET, without the body."""
        self.do_GET()

    def do_GET(self) -> None:
        """Model info and tree listings under /api/models, file downloads under /REPO/resolve/REV/NAME."""
        parts = self._route()
        if parts[:2] == ["api", "models"] and len(parts) == 4:  # model_info at main
            parts = [*parts, "revision", "main"]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
            return self._model_listing(f"{parts[2]}/{parts[3]}", parts[4], parts[5])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]))
        self._error(404, "NotFound", self.path)

    def _model_listing(self, repo_id: str, kind: str, revision: str) -> None:
        sha = self._commit_of(repo_id, revision)
        if sha is None:
            return
        files = self.hub.repos[repo_id].commits[sha]
        if kind == "revision":
            siblings = [{"rfilename": name} for name in sorted(files)]
            return self._json({"id": repo_id, "sha": sha, "siblings": siblings, "private": False})
        tree = [
            {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
            for name, data in sorted(files.items())
        ]
        self._json(tree)

    def _resolve(self, repo_id: str, revision: str, name: str) -> None:
        sha = self._commit_of(repo_id, revision)
        if sha is None:
            return
        data = self.hub.repos[repo_id].commits[sha].get(name)
        if data is None:
            return self._error(404, "EntryNotFound", f"{name} not found")
        self._send(200, data, {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})

    def do_POST(self) -> None:
        """Front-matter validation, repository creation, and branch/preupload/commit under /api/models."""
        parts = self._route()
        body = self._body()
        if parts[:2] == ["api", "validate-yaml"]:  # the hub checks README.md's front matter first
            return self._validate_yaml(json.loads(body)["content"])
        if parts[:3] == ["api", "repos", "create"]:
            return self._create_repo(json.loads(body))
        if parts[:2] != ["api", "models"] or len(parts) < 6:
            return self._error(404, "NotFound", self.path)
        repo_id, action, revision = f"{parts[2]}/{parts[3]}", parts[4], "/".join(parts[5:])
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
        if action == "branch":
            repo.branches.setdefault(revision, repo.branches["main"])
            return self._json({})
        if revision not in repo.branches:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if action == "preupload":
            files = json.loads(body)["files"]
            return self._json(
                {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if action == "commit":
            return self._commit(repo_id, repo, revision, body)
        self._error(404, "NotFound", self.path)

    def _validate_yaml(self, content: str) -> None:
        try:
            metadata = yaml.safe_load(content.split("---")[1]) if content.startswith("---") else None
        except yaml.YAMLError as err:
            metadata = str(err)
        if not isinstance(metadata, dict):
            return self._json({"errors": [{"message": f"bad front matter: {metadata!r}"}]}, 400)
        self.hub.validated.append(metadata)
        self._json({"warnings": []})

    def _create_repo(self, request: dict) -> None:
        repo_id = f"{request['organization']}/{request['name']}"
        if repo_id not in self.hub.repos:
            repo = Repo(private=request.get("visibility") == "private" or bool(request.get("private")))
            repo.branches["main"] = sha = hashlib.sha1(repo_id.encode()).hexdigest()
            repo.commits[sha] = {".gitattributes": b"*.onnx filter=lfs\n"}
            self.hub.repos[repo_id] = repo
        self._json({"url": f"{self.hub.endpoint}/{repo_id}"})

    def _commit(self, repo_id: str, repo: Repo, revision: str, body: bytes) -> None:
        files = dict(repo.commits[repo.branches[revision]])
        summary = ""
        for line in body.decode().splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                summary = item["value"]["summary"]
            elif item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                files.pop(item["value"]["path"], None)
        sha = hashlib.sha1(json.dumps(sorted((k, len(v)) for k, v in files.items())).encode())
        sha.update(str(len(repo.commits)).encode())
        repo.commits[sha.hexdigest()] = files
        repo.messages[sha.hexdigest()] = summary
        repo.branches[revision] = sha.hexdigest()
        self._json(
            {"commitUrl": f"{self.hub.endpoint}/{repo_id}/commit/{sha.hexdigest()}", "commitOid": sha.hexdigest()}
        )


LOAD_SCRIPT = """
import json, sys
from static_edge import load
model = load(sys.argv[1], revision=sys.argv[2] or None)
print(json.dumps({"commit": model.origin.commit, "revision": model.origin.revision, "path": str(model.path),
                  "vectors": model.encode(["hello hub", "static vectors"]).tolist()}))
"""


def load_in_subprocess(endpoint: str, home, repo_id: str, revision: str = "", offline: bool = False) -> dict:
    """`load(repo_id, revision)` in a fresh Python with HF_HOME=`home`: its commit, revision, path and two vectors."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1" if offline else "0"}
    env.pop("STATIC_EDGE_CACHE", None)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, repo_id, revision], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])
