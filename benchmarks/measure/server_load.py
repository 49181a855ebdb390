"""Load test of `static-edge serve`: the micro-batching server against the same server without batching.

    python -m benchmarks.measure.server_load --bundle quickstart/bundle-256-int8 [--seconds 5]

Each server runs alone, in its own process group, on a free loopback port; the load comes from `wrk`
(Debian's package: one C thread, so the client costs the server as little CPU as a client can) in another
process, for `--seconds` at each concurrency level. Requests are `POST /v1/embeddings` with
`"encoding_format": "base64"` (what the `openai` client sends), one short sentence each, or 256. A last row
runs 128 clients against a small `--max-queued-texts` to show excess load answered by 429.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common
from benchmarks.measure.corpus import short_sentences

SINGLE_LEVELS = (1, 2, 4, 8, 16, 32, 64, 128)
BATCH_LEVELS = (1, 2, 4, 8)
SERVERS = {
    "batched, 1 worker": ["--workers", "1"],
    "batched, a worker per core (default)": [],
    "unbatched, 1 worker": ["--workers", "1", "--max-batch-texts", "1"],
}
BATCHED, DEFAULT, UNBATCHED = SERVERS
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


SERVE = "import sys; from static_edge.cli import main; sys.exit(main(['serve', *sys.argv[1:]]))"
BEFORE = (
    "import argparse, sys; sys.path.insert(0, sys.argv.pop(1)); import server_before as s; "
    "p = argparse.ArgumentParser(); s.add_serve_arguments(p); sys.exit(s.run_serve(p.parse_args(sys.argv[1:])))"
)


def start_server(bundle: Path, *extra: str, code: str = SERVE) -> tuple[subprocess.Popen, str]:
    """A server on a free port in its own process group; returns it and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", code, *extra, str(bundle), "--port", "0", "--model-name", "bench"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    found = re.search(r"(http://\S+)/v1", process.stdout.readline())
    if not found:
        stop_server(process)
        raise SystemExit("the server did not start")
    wait_until_healthy(found.group(1))
    return process, found.group(1)


def wait_until_healthy(url: str, seconds: float = 30) -> None:
    """Poll /health: a server may print its address before it listens."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the server's group and wait; SIGKILL after 30 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def lua_script(bodies: list[str]) -> str:
    """A wrk script that POSTs the bodies in turn, as JSON."""
    table = ",\n".join(f"[==[{body}]==]" for body in bodies)
    return (
        f"local bodies = {{\n{table}\n}}\nlocal i = 0\n"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i % #bodies + 1\n"
        '  return wrk.format(nil, "/v1/embeddings", nil, bodies[i])\nend\n'
    )


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50 and p99 in ms, non-2xx responses and socket errors from wrk's --latency report."""

    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return float(found.group(1)) * UNITS[found.group(2)] if found else float("nan")

    requests = re.search(r"(\d+) requests in", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "requests/s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50 ms": latency("50"),
        "p99 ms": latency("99"),
        "429s": int(non_2xx.group(1)) if non_2xx else 0,
        "timeouts": int(errors.group(4)) if errors else 0,
        "socket errors": sum(int(g) for g in errors.groups()[:3]) if errors else 0,
    }


def write_script(path: Path, texts: list[str], per_request: int) -> Path:
    """A wrk script cycling through 64 request bodies of `per_request` texts each (base64 output)."""
    bodies = [
        json.dumps(
            {"model": "bench", "input": texts[i * per_request : (i + 1) * per_request], "encoding_format": "base64"}
        )
        for i in range(64)
    ]
    path.write_text(lua_script(bodies), encoding="utf-8")
    return path


def run_wrk(url: str, script: Path, concurrency: int, seconds: float) -> dict[str, float]:
    """One wrk run at `concurrency` open connections."""
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def sweep(
    bundle: Path, name: str, scripts: dict[int, Path], seconds: float, extra: list[str], code: str = SERVE
) -> list[dict]:
    """Every level of both request sizes against one server."""
    process, url = start_server(bundle, *extra, code=code)
    rows = []
    try:
        run_wrk(url, scripts[1], 4, 1)  # warm-up
        for per_request, levels in ((1, SINGLE_LEVELS), (256, BATCH_LEVELS)):
            for level in levels:
                row = {"server": name, "texts per request": per_request, "clients": level}
                row.update(run_wrk(url, scripts[per_request], level, seconds))
                row["texts/s"] = row["requests/s"] * per_request
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        stop_server(process)
    return rows


def overload_row(bundle: Path, script: Path, seconds: float) -> dict:
    """128 clients against a queue of 32 texts: what does not fit is answered 429 at once."""
    process, url = start_server(bundle, "--workers", "1", "--max-queued-texts", "32")
    try:
        row = {"server": "overload: batched, 1 worker, --max-queued-texts 32", "texts per request": 1, "clients": 128}
        row.update(run_wrk(url, script, 128, seconds))
        row["texts/s"] = row["requests/s"]
    finally:
        stop_server(process)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    """Run the sweep, write benchmarks/results/server.md/.json and server.png."""
    parser = common.parser(__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=5, help="load time per level")
    parser.add_argument("--before", metavar="REV", help="also run runtimes/server.py as of this git revision")
    parser.add_argument("--data", type=Path, default=common.DATA)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    texts = list(short_sentences(20_000, data=args.data))
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {n: write_script(Path(tmp) / f"post-{n}.lua", texts, n) for n in (1, 256)}
        rows = []
        if args.before:
            source = subprocess.run(["git", "show", f"{args.before}:runtimes/server.py"], capture_output=True,
                                    text=True, check=True).stdout  # fmt: skip
            (Path(tmp) / "server_before.py").write_text(source, encoding="utf-8")
            rows += sweep(args.bundle, f"before ({args.before})", scripts, args.seconds, [tmp], code=BEFORE)
        for name, extra in SERVERS.items():
            rows += sweep(args.bundle, name, scripts, args.seconds, extra)
        rows.append(overload_row(args.bundle, scripts[1], args.seconds))
    common.publish(
        args.out,
        "server",
        "benchmarks.measure.server_load",
        title="static-edge serve: micro-batching under load",
        rows=rows,
        notes=notes(rows),
        plot=lambda path: plot(rows, path),
    )


def notes(rows: list[dict]) -> list[str]:
    """The ratios the issue asks for, measured in this run, and the conditions."""

    def pick(name: str, per_request: int, clients: int) -> dict:
        return next(
            r for r in rows if r["server"] == name and r["texts per request"] == per_request and r["clients"] == clients
        )

    at32 = pick(BATCHED, 1, 32)["requests/s"] / pick(UNBATCHED, 1, 32)["requests/s"]
    at256 = {name: max(r["texts/s"] for r in rows if r["server"] == name and r["texts per request"] == 256)
             for name in (BATCHED, DEFAULT)}  # fmt: skip
    before = [r["server"] for r in rows if r["server"].startswith("before")]
    versus = ""
    if before:
        ratio = pick(BATCHED, 1, 32)["requests/s"] / pick(before[0], 1, 32)["requests/s"]
        default = pick(DEFAULT, 1, 32)["requests/s"] / pick(before[0], 1, 32)["requests/s"]
        versus = f"; vs the server {before[0]}: {ratio:.2f}x with 1 worker, {default:.2f}x with the default workers"
    return [
        f"At 32 single-text clients, batched vs unbatched (1 worker each): {at32:.2f}x requests/s in this run"
        f"{versus}. Best 256-text rate: {at256[BATCHED]:,.0f} texts/s with 1 worker, {at256[DEFAULT]:,.0f} with "
        f"the default ({os.cpu_count()} workers here).",
        "before = the server as of that revision (each request encoded on its own in the thread pool, FastAPI's "
        "whole middleware stack, stdlib JSON), run from the same environment on the same bundle.",
        "unbatched = the same server with `--max-batch-texts 1` (each request encoded on its own); batched = "
        "batches of up to 1,024 texts, no wait (requests that arrive while one batch encodes form the next). Access "
        "log on (to /dev/null), onnxruntime backend, the bundle's CPU default variant.",
        f"Load average at the end: {tuple(round(x, 1) for x in os.getloadavg())} on {os.cpu_count()} cores, "
        "shared by wrk, the server and other work: absolute numbers are a floor for a quiet machine.",
    ]


def plot(rows: list[dict], path: Path) -> None:
    """Requests/s and p99 by clients, batched vs unbatched, single-text requests."""
    fig, (left, right) = common.figure(2, (10, 3.5))
    for name in dict.fromkeys(r["server"] for r in rows if not r["server"].startswith("overload")):
        subset = [r for r in rows if r["server"] == name and r["texts per request"] == 1]
        levels = [r["clients"] for r in subset]
        left.plot(levels, [r["requests/s"] for r in subset], marker="o", label=name)
        right.plot(levels, [r["p99 ms"] for r in subset], marker="o", label=f"{name} p99")
    for ax, label in ((left, "requests/s (1 text each)"), (right, "p99 latency ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    right.set_yscale("log")
    common.save(fig, path, dpi=120)


if __name__ == "__main__":
    main()
