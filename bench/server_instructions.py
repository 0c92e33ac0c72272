#!/usr/bin/env python3
"""Instructions per invocation of the whole `aml-handlers serve` process (bench/README.md).

The release binary runs under Valgrind's cachegrind (no cache simulation) and is sent the
Functions host's RunCompleted invocation, the event double-encoded in Data.event as
bench/run.sh sends it, a new event id each time, over one keep-alive connection. Two runs of
different lengths are counted; the difference of their totals divided by the difference of
their lengths is what one invocation costs, start-up and shutdown cancelled out. Logs are on
at the default level and go to /dev/null, as in bench/run.sh.

    cargo build --release && bench/server_instructions.py
    bench/server_instructions.py --short 200 --long 1200 --binary target/release/aml-handlers

With --floor it counts bench/floor instead (built here first): actix-web as aml-handlers sets it
up, reading each invocation whole and answering a fixed body of the same size, and nothing more.
That is the framework's own share of the figure, which no change to the handlers goes below.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests/fixtures/event_grid/run_completed.json"
FIXTURE_ID = "831e1650-001e-001b-66ab-eeb76e069631"


def invocation_template() -> str:
    """The host-shaped invocation, as bench/run.sh writes it (tests/custom_handler.rs)."""
    event = json.loads(FIXTURE.read_text())[0]
    invocation = {
        "Data": {"event": json.dumps(json.dumps(event, indent=2))},
        "Metadata": {"sys": {"MethodName": "RunCompleted", "UtcNow": "2026-01-01T00:00:00Z"}},
    }
    return json.dumps(invocation, separators=(",", ":"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server stopped before it was ready (exit {process.returncode})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("the server was not ready within 60 s")


def count(command: list[str], requests: int, run: int) -> int:
    """Total instructions of one server process that answered `requests` invocations."""
    template = invocation_template()
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "cachegrind.out"
        env = {"PATH": os.environ.get("PATH", ""), "FUNCTIONS_CUSTOMHANDLER_PORT": str(port)}
        process = subprocess.Popen(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             f"--cachegrind-out-file={out}", *command],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, process)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Content-Type": "application/json"}
            for n in range(requests):
                # A new id of the fixture's length, so every body has the same size and no
                # event is a redelivery of another (which the handlers would shortcut).
                event_id = f"{run:04x}{n:04x}" + FIXTURE_ID[8:]
                connection.request("POST", "/RunCompleted", template.replace(FIXTURE_ID, event_id), headers)
                answer = connection.getresponse()
                body = answer.read()
                if answer.status != 200:
                    sys.exit(f"invocation {n} answered {answer.status}: {body[:300]!r}")
            connection.close()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
        summary = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        if not summary:
            sys.exit("cachegrind wrote no summary")
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=ROOT / "target/release/aml-handlers")
    parser.add_argument("--short", type=int, default=200, help="invocations of the short run")
    parser.add_argument("--long", type=int, default=1200, help="invocations of the long run")
    parser.add_argument("--floor", action="store_true", help="count bench/floor (actix-web alone) instead")
    args = parser.parse_args()
    if args.long <= args.short:
        sys.exit("--long must be more than --short")
    if args.floor:
        manifest = ROOT / "bench/floor/Cargo.toml"
        subprocess.run(["cargo", "build", "--release", "--locked", "--manifest-path", str(manifest)], check=True)
        command = [str(ROOT / "bench/floor/target/release/actix-floor")]
    else:
        if not args.binary.exists():
            sys.exit(f"{args.binary} is missing: cargo build --release first")
        command = [str(args.binary), "serve"]
    short = count(command, args.short, 1)
    long = count(command, args.long, 2)
    per = (long - short) / (args.long - args.short)
    print(f"{args.short} invocations: {short:,} instructions")
    print(f"{args.long} invocations: {long:,} instructions")
    print(f"per invocation (difference): {per:,.0f} instructions")


if __name__ == "__main__":
    main()
