#!/usr/bin/env python3
"""Cold start: exec a server, poll `GET /` on loopback until it answers 200; repeat.

    coldstart.py [--runs N] [--cpu C] [--poll-cpu P] [--env K=V]... [--template SRC DST]
                 [--timeout S] -- COMMAND ARG...

Every `@PORT@` in COMMAND's arguments, in the --env values and in the --template file (copied
to DST before each run) is replaced by a fresh free loopback port. The server is pinned to core
C (default 0) in the child between fork and exec, so no extra exec (taskset) is timed; this
helper pins itself to core P (default 1) so its polling does not take the server's core.

The clock (time.perf_counter_ns) starts right before the fork and stops when a complete
`HTTP/1.x 200` status line has been read. Connection refusals are retried at once (a tight
loop: the poller has its own core). Prints one JSON line:
{"runs": N, "median_ms": ..., "min_ms": ..., "max_ms": ..., "samples_ms": [...]}.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answered_200(port):
    """One GET /; True on a 200, False when refused or anything else (not up yet)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(REQUEST)
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(256)
                if not chunk:
                    return False
                head += chunk
            return head.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def one_run(command, env, template, cpu, timeout):
    port = str(free_port())
    argv = [arg.replace("@PORT@", port) for arg in command]
    run_env = dict(os.environ)
    run_env.update({key: value.replace("@PORT@", port) for key, value in env.items()})
    if template:
        src, dst = template
        with open(src) as source, open(dst, "w") as target:
            target.write(source.read().replace("@PORT@", port))

    def pin():
        os.sched_setaffinity(0, {cpu})

    start = time.perf_counter_ns()
    proc = subprocess.Popen(
        argv,
        env=run_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pin,
    )
    try:
        deadline = start + int(timeout * 1e9)
        while True:
            if answered_200(int(port)):
                elapsed = time.perf_counter_ns() - start
                break
            if proc.poll() is not None:
                raise SystemExit(f"coldstart: {argv[0]} exited with {proc.returncode} before answering GET /")
            if time.perf_counter_ns() > deadline:
                raise SystemExit(f"coldstart: {argv[0]} did not answer GET / within {timeout} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return elapsed / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cpu", type=int, default=0, help="core the server runs on")
    parser.add_argument("--poll-cpu", type=int, default=1, help="core this poller runs on")
    parser.add_argument("--env", action="append", default=[], metavar="K=V")
    parser.add_argument("--template", nargs=2, metavar=("SRC", "DST"))
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one start")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    env = dict(item.split("=", 1) for item in args.env)
    # Ended from outside: stop the server being timed (the `finally` in one_run) before leaving.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        os.sched_setaffinity(0, {args.poll_cpu})
    except OSError:
        pass
    samples = [one_run(command, env, args.template, args.cpu, args.timeout) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "runs": len(samples),
                "median_ms": round(statistics.median(samples), 3),
                "min_ms": round(min(samples), 3),
                "max_ms": round(max(samples), 3),
                "samples_ms": [round(sample, 3) for sample in samples],
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
