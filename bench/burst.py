#!/usr/bin/env python3
"""The live burst (bench/README.md, issue 27): 2,000 failed runs, each enriched and notified.

What a Flex instance is billed for when a burst of failed runs arrives: every event makes two
outbound calls that wait on someone else (run history, then Slack). This script delivers
2,000 distinct failed-run Microsoft.MachineLearningServices.RunStatusChanged events (Event Grid
schema, each its own id and runId) to a fresh server process as Functions-host invocations
(POST /RunStatusChanged, the event double-encoded in Data.event as bench/run.sh sends it),
64 in flight at a time (a closed loop, 64 keep-alive connections opened before the clock
starts), and measures:

  drain time   first request sent to last answer read (time.perf_counter)
  CPU seconds  utime + stime of the server process, all its threads (/proc/<pid>/stat), read
               right before the first request and right after the last answer
  peak RSS     VmHWM of /proc/<pid>/status after the drain (its peak over its life)

Loopback stand-ins answer as the vendor does, each after 20 ms (an asyncio timer): the managed
identity token endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), ARM's GET workspace (its
properties.discoveryUrl), the discovery document and run history's GET run (a failed run with a
traceback) on the regional API host, and a Slack incoming webhook (answers `ok`). Each is a
raw asyncio HTTP/1.1 keep-alive server on its own port, in this process. Per event, two round
trips wait (the run, the notice): 2,000 / 64 x 2 x 20 ms = 1.25 s is the bound. A target and a
load that cost nothing would take 1.34 s: the busiest connections carry 32 events, not 31.25,
and the first events also wait for the token, the workspace and the discovery document.

A run counts only if the work happened: every answer is 200 with a ReturnValue for its event
whose actions are enrich done and notify done, and the stand-ins saw exactly one run-history
GET per runId and one Slack POST per event id, each Slack notice carrying the run's error as
run history gave it, and nothing they refused. Otherwise the run is an error, not a figure.

Targets, each its own fresh process per run, pinned to core 0 (taskset); this script, its
load and its stand-ins run on core 1:

  aml-handlers  target/release/aml-handlers serve, configured by settings only (no dry run,
                no ledger: in memory; logs at the default level to /dev/null)
  node          bench/peers/node/burst.js: express 5 + @azure/eventgrid + global fetch
  python        bench/peers/python/burst.py: aiohttp + azure-eventgrid + one ClientSession
  null          the null check: a handler in this script making the same calls over raw
                asyncio sockets and nothing else (no framework, no SDK, a minimal notice);
                its drain time is the floor this machine, load and stand-ins allow

Runs go round-robin (aml-handlers, node, python, null, aml-handlers, ...) so a noisy minute of
a shared machine falls on every target alike; each figure is the median of --runs runs. Before
each run the script waits (up to --quiet-wait s) for the machine to be under 10% busy, and a
run during which other work took more than --noise-pct of the server's core or of the load's
is run again; each run names the aml-handlers binary it ran (by SHA-256). In a
closed loop the drain time grows with the CPU each event costs on the server's core (the 64
events of a round queue for it), so it is read against the null check's. The report goes to
stdout and bench/results/burst-latest.md, the raw figures to bench/results/burst-raw/ (a
sample answer and Slack notice of each target included).

Examples:

  bench/burst.py                                   # all four, 5 runs each (~2 min quiet)
  bench/burst.py --targets aml-handlers --events 200 --runs 1 --no-build
  bench/burst.py --targets aml-handlers,node --runs 9
  bench/burst.py --log-dir /tmp/burst-logs         # keep the servers' stderr

It installs what the peers need as bench/run.sh does (npm ci in bench/peers/node, the venv
bench/.venv with bench/peers/python/requirements.txt) and runs
`cargo build --release --locked --bin aml-handlers` unless --no-build.
"""

import argparse
import asyncio
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
RAW = RESULTS / "burst-raw"
NODE_PEER = BENCH / "peers/node"
PY_PEER = BENCH / "peers/python"
VENV = BENCH / ".venv"
BINARY = ROOT / "target/release/aml-handlers"
FIXTURE = ROOT / "tests/fixtures/event_grid/run_status_changed.json"

TARGETS = ("aml-handlers", "node", "python")
NULL = "null"
LABELS = {
    NULL: "null (raw asyncio, the same calls, nothing else)",
    "aml-handlers": "aml-handlers (Rust)",
    "node": "node (express + @azure/eventgrid + fetch)",
    "python": "python (aiohttp + azure-eventgrid)",
}

# The stand-in workspace: a real resource id (the fixture's topic has placeholders, which
# skip the workspace actions).
SUBSCRIPTION = "0b7c2f5e-4d1a-4e8b-9c3f-2a6d8e1f0c4b"
WORKSPACE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/ml-rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/ml-ws"
)
TOKEN = "burst-stand-in-access-token"
IDENTITY_HEADER = "burst-identity-header"
SLACK_PATH = "/services/T0BURST00/B0BURST00/burstwebhooksecret0000000"
# The run's error as run history gives it; its last line must reach every Slack notice.
RUN_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 42, in <module>\n'
    "    model.fit(features, labels)\n"
    "ValueError: Input contains NaN, infinity or a value too large for dtype('float64')."
)
RUN_ERROR_MARK = "Input contains NaN, infinity or a value too large for dtype"
NAME = re.compile(r"[A-Za-z0-9_.-]+")
GUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Targets (bench/README.md): drain within 25% of the bound; CPU and RSS against the peers.
DRAIN_SLACK = 1.25
CPU_VS_NODE = 10
CPU_VS_PYTHON = 5
RSS_VS_NODE = 5


def log(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 on raw asyncio protocols: the stand-ins' server side and the load's client side.
# ---------------------------------------------------------------------------------------------
def parse_message(buf: bytearray):
    """One whole HTTP/1.1 message at the start of `buf`: (start line, headers with lower-case
    names, body, bytes used), or None while it is incomplete. Content-Length or chunked."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    pos = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                while True:  # trailers, up to the blank line
                    eol = buf.find(b"\r\n", pos)
                    if eol < 0:
                        return None
                    if eol == pos:
                        return lines[0], headers, bytes(body), eol + 2
                    pos = eol + 2
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            pos += size + 2
    length = int(headers.get("content-length", "0"))
    if len(buf) < pos + length:
        return None
    return lines[0], headers, bytes(buf[pos : pos + length]), pos + length


def response_bytes(status: int, content_type: str, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class StandInProtocol(asyncio.Protocol):
    """A keep-alive HTTP/1.1 server connection: each request is answered `delay` seconds after
    it was read whole (an asyncio timer), in order."""

    def __init__(self, stand_in, name: str):
        self.stand_in = stand_in
        self.name = name
        self.buf = bytearray()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.stand_in.connections += 1

    def data_received(self, data):
        self.buf += data
        while True:
            message = parse_message(self.buf)
            if message is None:
                return
            start, headers, body, used = message
            del self.buf[:used]
            method, target, _ = start.split(" ", 2)
            answer = self.stand_in.answer(self.name, method, target, headers, body)
            loop = asyncio.get_running_loop()
            due = loop.time() + self.stand_in.delay
            loop.call_at(due, self.send, answer, due)

    def send(self, answer: bytes, due: float):
        self.stand_in.lateness.append(asyncio.get_running_loop().time() - due)
        if not self.transport.is_closing():
            self.transport.write(answer)


class StandIns:
    """The identity endpoint, ARM, the regional API (discovery, run history) and Slack, each on
    its own loopback port, recording what they were asked for the checks after the drain."""

    def __init__(self, delay: float):
        self.delay = delay
        self.servers = {}
        self.ports = {}
        self.connections = 0
        self.lateness = []
        self.asked = Counter()  # token, workspace, discovery, run, slack, refused
        self.run_paths = []
        self.slack_bodies = []
        self.refused = []

    async def start(self):
        loop = asyncio.get_running_loop()
        for name in ("identity", "arm", "api", "slack"):
            server = await loop.create_server(lambda name=name: StandInProtocol(self, name), "127.0.0.1", 0, backlog=1024)
            self.servers[name] = server
            self.ports[name] = server.sockets[0].getsockname()[1]
        self.workspace_body = json.dumps(
            {
                "id": WORKSPACE,
                "name": "ml-ws",
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": "eastus",
                "sku": {"name": "Basic", "tier": "Basic"},
                "properties": {
                    "friendlyName": "ml-ws",
                    "workspaceId": "5f2a9c1e-7b3d-4e6f-8a0b-1c2d3e4f5a6b",
                    "discoveryUrl": f"http://127.0.0.1:{self.ports['api']}/discovery",
                    "provisioningState": "Succeeded",
                    "hbiWorkspace": False,
                },
            }
        ).encode()
        api = f"http://127.0.0.1:{self.ports['api']}"
        self.discovery_body = json.dumps(
            {
                "api": api,
                "catalog": api,
                "experimentation": api,
                "gallery": api,
                "history": api,
                "hyperdrive": api,
                "labeling": api,
                "modelmanagement": api,
                "pipelines": api,
                "studio": "https://ml.azure.com",
            }
        ).encode()
        self.history_prefix = f"/history/v1.0{WORKSPACE}/experiments/".lower()

    def close(self):
        for server in self.servers.values():
            server.close()

    def refuse(self, status: int, why: str) -> bytes:
        self.asked["refused"] += 1
        if len(self.refused) < 20:
            self.refused.append(why)
        return response_bytes(status, "application/json", json.dumps({"error": {"code": "Refused", "message": why}}).encode())

    def answer(self, name: str, method: str, target: str, headers: dict, body: bytes) -> bytes:
        url = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(url.path)
        bearer = headers.get("authorization") == f"Bearer {TOKEN}"
        if name == "identity":
            # https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
            query = urllib.parse.parse_qs(url.query)
            if method != "GET" or path != "/msi/token":
                return self.refuse(404, f"identity: {method} {path}")
            if headers.get("x-identity-header") != IDENTITY_HEADER:
                return self.refuse(401, "identity: no X-IDENTITY-HEADER")
            if query.get("api-version") != ["2019-08-01"] or not query.get("resource"):
                return self.refuse(400, f"identity: query {url.query}")
            self.asked["token"] += 1
            token = {
                "access_token": TOKEN,
                "expires_on": str(int(time.time()) + 86400),
                "resource": query["resource"][0],
                "token_type": "Bearer",
                "client_id": "7d3f1a2b-0c4e-4f5a-9b6c-8d7e6f5a4b3c",
            }
            return response_bytes(200, "application/json", json.dumps(token).encode())
        if name == "arm":
            if method != "GET" or path.lower() != WORKSPACE.lower():
                return self.refuse(404, f"arm: {method} {path}")
            if not bearer:
                return self.refuse(401, "arm: no bearer token")
            self.asked["workspace"] += 1
            return response_bytes(200, "application/json", self.workspace_body)
        if name == "api":
            if method == "GET" and path == "/discovery":
                self.asked["discovery"] += 1
                return response_bytes(200, "application/json", self.discovery_body)
            if method != "GET" or not path.lower().startswith(self.history_prefix):
                return self.refuse(404, f"api: {method} {path}")
            if not bearer:
                return self.refuse(401, "run history: no bearer token")
            experiment, runs, run_id = (path[len(self.history_prefix) :].split("/") + ["", ""])[:3]
            if runs != "runs" or not NAME.fullmatch(run_id) or not NAME.fullmatch(experiment):
                return self.refuse(404, f"run history: {path}")
            self.asked["run"] += 1
            self.run_paths.append(run_id)
            return response_bytes(200, "application/json", run_body(experiment, run_id))
        if name == "slack":
            if method != "POST" or path != SLACK_PATH:
                return self.refuse(404, f"slack: {method} {path}")
            self.asked["slack"] += 1
            self.slack_bodies.append(body)
            # https://api.slack.com/messaging/webhooks: 200 with the body `ok`.
            return response_bytes(200, "text/html", b"ok")
        return self.refuse(404, f"no stand-in {name}")


def run_template() -> bytes:
    """A failed run as run history's GET run answers it, `{RUN}` and `{EXPERIMENT}` to fill in
    (written once: the stand-ins' work per request is kept small)."""
    return json.dumps(
        {
            "runNumber": 1706,
            "rootRunId": "{RUN}",
            "createdUtc": "2026-11-30T05:59:31.201Z",
            "createdBy": {"userName": "Data Scientist", "userTenantId": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"},
            "userId": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "target": "cpu-cluster",
            "status": "Failed",
            "startTimeUtc": "2026-11-30T06:00:44.123Z",
            "endTimeUtc": "2026-11-30T06:12:44.123Z",
            "error": {
                "error": {"code": "UserError", "message": RUN_ERROR, "messageFormat": "", "details": []},
                "time": "2026-11-30T06:12:44.123Z",
                "componentName": "CommonRuntime",
            },
            "runId": "{RUN}",
            "parentRunId": None,
            "experimentId": "0fa9dfaa-cba3-4fa7-b590-23e48548f5c1",
            "experimentName": "{EXPERIMENT}",
            "displayName": "{RUN}",
            "runType": "azureml.scriptrun",
            "properties": {"azureml.git.repository_uri": "https://example.invalid/repo.git", "ContentSnapshotId": "c3d4"},
            "tags": {"team": "churn"},
        }
    ).encode()


RUN_TEMPLATE = run_template()


def run_body(experiment: str, run_id: str) -> bytes:
    """The run, for names the event gave (JSON-safe: letters, digits, `-` and `_`)."""
    return RUN_TEMPLATE.replace(b"{RUN}", run_id.encode()).replace(b"{EXPERIMENT}", experiment.encode())


class ClientProtocol(asyncio.Protocol):
    """One keep-alive client connection: one request at a time, the answer's status and body."""

    def __init__(self):
        self.buf = bytearray()
        self.waiter = None
        self.transport = None
        self.lost = None

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.lost = exc or ConnectionResetError("the server closed the connection")
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(self.lost)

    def data_received(self, data):
        self.buf += data
        message = parse_message(self.buf)
        if message is not None and self.waiter and not self.waiter.done():
            start, _, body, used = message
            del self.buf[:used]
            self.waiter.set_result((int(start.split(" ", 2)[1]), body))

    async def request(self, raw: bytes):
        if self.lost:
            raise self.lost
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def connect(port: int) -> ClientProtocol:
    _, protocol = await asyncio.get_running_loop().create_connection(ClientProtocol, "127.0.0.1", port)
    return protocol


# ---------------------------------------------------------------------------------------------
# The null target: the same calls with nothing else (no framework, no SDK, raw sockets), to
# show what drain time this machine, this load and these stand-ins allow.
# ---------------------------------------------------------------------------------------------
class Pool:
    """Idle keep-alive connections to one loopback port, one more opened when none is idle."""

    def __init__(self, port: int):
        self.port = port
        self.idle = []

    async def request(self, raw: bytes):
        client = self.idle.pop() if self.idle else await connect(self.port)
        answer = await client.request(raw)
        self.idle.append(client)
        return answer


class NullHandler:
    """Token, workspace and discovery once; per event, GET the run, POST a notice to Slack."""

    def __init__(self):
        self.identity = urllib.parse.urlsplit(os.environ["IDENTITY_ENDPOINT"])
        self.arm = urllib.parse.urlsplit(os.environ["AML_ARM_ENDPOINT"])
        self.slack = urllib.parse.urlsplit(os.environ["AML_NOTIFY_URL"].removeprefix("slack:"))
        self.pools = {}
        self.discovered = None

    async def get(self, url, headers=""):
        pool = self.pools.setdefault(url.port, Pool(url.port))
        target = url.path + (f"?{url.query}" if url.query else "")
        return await pool.request(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\n{headers}\r\n".encode())

    async def discover(self):
        query = "api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"
        _, body = await self.get(self.identity._replace(query=query), f"X-IDENTITY-HEADER: {os.environ['IDENTITY_HEADER']}\r\n")
        bearer = f"Authorization: Bearer {json.loads(body)['access_token']}\r\n"
        _, body = await self.get(self.arm._replace(path=WORKSPACE, query="api-version=2024-04-01"), bearer)
        _, body = await self.get(urllib.parse.urlsplit(json.loads(body)["properties"]["discoveryUrl"]))
        return bearer, urllib.parse.urlsplit(json.loads(body)["api"])

    async def invoke(self, body: bytes) -> bytes:
        event = json.loads(json.loads(json.loads(body)["Data"]["event"]))
        if self.discovered is None:
            self.discovered = asyncio.ensure_future(self.discover())
        bearer, api = await self.discovered
        data = event["data"]
        path = f"{event['topic']}/experiments/{data['experimentName']}/runs/{data['runId']}"
        status, run = await self.get(api._replace(path=f"/history/v1.0{path}", query="api-version=2019-11-01"), bearer)
        enriched = "done" if status == 200 else "failed"
        error = json.loads(run)["error"]["error"]["message"] if status == 200 else ""
        notice = json.dumps({"text": f"Run {data['runId']} failed", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": error}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Event id: {event['id']}"}]}]}).encode()
        pool = self.pools.setdefault(self.slack.port, Pool(self.slack.port))
        status, _ = await pool.request(
            f"POST {self.slack.path} HTTP/1.1\r\nHost: {self.slack.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(notice)}\r\n\r\n".encode() + notice)
        notified = "done" if status == 200 else "failed"
        outcome = {"function": "RunStatusChanged", "eventId": event["id"], "eventType": event["eventType"],
                   "actions": [{"action": "enrich", "status": enriched}, {"action": "notify", "status": notified}]}
        return response_bytes(200, "application/json", json.dumps({"Outputs": {}, "Logs": [], "ReturnValue": outcome}).encode())


class NullProtocol(asyncio.Protocol):
    def __init__(self, handler: NullHandler):
        self.handler = handler
        self.buf = bytearray()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while (message := parse_message(self.buf)) is not None:
            start, _, body, used = message
            del self.buf[:used]
            if start.startswith("GET "):
                self.transport.write(response_bytes(200, "application/json", b"{}"))
            else:
                asyncio.ensure_future(self.answer(body))

    async def answer(self, body: bytes):
        answer = await self.handler.invoke(body)
        if not self.transport.is_closing():
            self.transport.write(answer)


async def serve_null() -> None:
    handler = NullHandler()
    port = int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])
    server = await asyncio.get_running_loop().create_server(lambda: NullProtocol(handler), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------------------------------------
# The events and their invocations.
# ---------------------------------------------------------------------------------------------
def events(count: int):
    """`count` distinct failed runs of the stand-in workspace, shaped like the fixture."""
    template = json.loads(FIXTURE.read_text())[0]
    made = []
    for n in range(count):
        event = json.loads(json.dumps(template))
        run_id = f"AutoML_{uuid.uuid4()}_{n}"
        event["id"] = str(uuid.uuid4())
        event["topic"] = WORKSPACE
        event["subject"] = f"experiments/{event['data']['experimentId']}/runs/{run_id}"
        event["eventTime"] = "2026-11-30T06:12:44.9584103Z"
        event["data"]["runId"] = run_id
        event["data"]["runStatus"] = "Failed"
        made.append(event)
    return made


def invocation(event: dict, port: int) -> bytes:
    """POST /RunStatusChanged as the Functions host sends it (bench/run.sh,
    tests/custom_handler.rs): Data.event a JSON string holding a JSON string holding the
    indented event."""
    body = json.dumps(
        {
            "Data": {"event": json.dumps(json.dumps(event, indent=2))},
            "Metadata": {
                "sys": {"MethodName": "RunStatusChanged", "UtcNow": "2026-11-30T06:12:45.1Z", "RandomGuid": str(uuid.uuid4())},
            },
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"POST /RunStatusChanged HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"X-Azure-Functions-InvocationId: {uuid.uuid4()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


# ---------------------------------------------------------------------------------------------
# The machine: CPU of a process and of a core.
# ---------------------------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_ticks(pid: int) -> int:
    """utime + stime of a process, all its threads, in clock ticks."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def file_sha256(path: Path) -> str:
    """The first 12 hex digits of a file's SHA-256, as bench/run.sh names the binary."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def core_ticks(name: str):
    """(busy, total, steal) ticks of `cpuN`, or of all cores (`cpu`), from /proc/stat."""
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if fields[0] == name:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[1:9])
                busy = user + nice + system + irq + softirq
                return busy, busy + idle + iowait + steal, steal
    raise RuntimeError(f"{name} is not in /proc/stat")


def wait_quiet(limit: float, percent: int) -> None:
    """Up to `limit` seconds until all cores together are under `percent` % busy over 1 s."""
    waited = 0
    while waited < limit:
        b0, t0, _ = core_ticks("cpu")
        time.sleep(1)
        b1, t1, _ = core_ticks("cpu")
        busy = (b1 - b0) * 100 // max(t1 - t0, 1)
        if busy < percent:
            return
        waited += 1
        if waited % 10 == 1:
            log(f"waiting for the machine to quiet down ({busy}% busy)")
    if limit > 0:
        log(f"warning: the machine is still busy after {limit:.0f}s; measuring anyway")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# One run: stand-ins, a fresh server, the burst, the checks.
# ---------------------------------------------------------------------------------------------
def server_command(target: str, args) -> list:
    if target == "aml-handlers":
        return [str(args.binary), "serve"]
    if target == "node":
        return ["node", str(NODE_PEER / "burst.js")]
    if target == "python":
        return [str(VENV / "bin/python"), str(PY_PEER / "burst.py")]
    return [sys.executable, str(Path(__file__).resolve()), "--serve-null"]


def server_env(target: str, port: int, stand_ins: StandIns) -> dict:
    """Settings only, as on the platform: the managed identity, ARM and the Slack target on
    loopback; nothing else from this shell (no dry run, no ledger, no log filter)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "FUNCTIONS_CUSTOMHANDLER_PORT": str(port),
        "IDENTITY_ENDPOINT": f"http://127.0.0.1:{stand_ins.ports['identity']}/msi/token",
        "IDENTITY_HEADER": IDENTITY_HEADER,
        "AML_ARM_ENDPOINT": f"http://127.0.0.1:{stand_ins.ports['arm']}",
        "AML_NOTIFY_URL": f"slack:http://127.0.0.1:{stand_ins.ports['slack']}{SLACK_PATH}",
    }
    if target == "node":
        env["NODE_ENV"] = "production"
    return env


async def wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped before it was ready (exit {process.returncode})")
        try:
            client = await connect(port)
            status, _ = await client.request(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            client.transport.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.02)
    raise RuntimeError("the server did not answer GET / with 200 within 60 s")


async def one_run(target: str, number: int, args) -> dict:
    stand_ins = StandIns(args.delay_ms / 1000)
    await stand_ins.start()
    port = free_port()
    # The lead may rebuild target/release between runs: each run names the binary it ran.
    binary = file_sha256(args.binary) if target == "aml-handlers" else None
    burst = events(args.events)
    requests = [invocation(event, port) for event in burst]
    log_file = subprocess.DEVNULL
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(args.log_dir / f"{target}.{number}.log", "wb")
    process = subprocess.Popen(
        ["taskset", "-c", str(args.server_cpu)] + server_command(target, args),
        env=server_env(target, port, stand_ins),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=log_file,
    )
    try:
        await wait_ready(port, process)
        clients = [await connect(port) for _ in range(args.concurrency)]
        answers = [None] * len(requests)
        next_one = iter(range(len(requests)))

        async def closed_loop(client):
            for n in next_one:
                try:
                    answers[n] = await client.request(requests[n])
                except OSError as err:
                    answers[n] = (0, str(err).encode())
                    return

        loop_cpu0 = time.process_time()
        ticks0 = process_ticks(process.pid)
        core0 = core_ticks(f"cpu{args.server_cpu}")
        load0 = core_ticks(f"cpu{args.load_cpu}")
        started = time.perf_counter()
        try:
            # A server that stops answering leaves its events unanswered: a failed run.
            await asyncio.wait_for(asyncio.gather(*(closed_loop(client) for client in clients)), args.timeout)
        except asyncio.TimeoutError:
            pass
        drained = time.perf_counter() - started
        ticks1 = process_ticks(process.pid)
        core1 = core_ticks(f"cpu{args.server_cpu}")
        load1 = core_ticks(f"cpu{args.load_cpu}")
        loop_cpu = time.process_time() - loop_cpu0
        hwm = peak_rss_kb(process.pid)
        for client in clients:
            client.transport.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log_file is not subprocess.DEVNULL:
            log_file.close()
        stand_ins.close()

    server_ticks = ticks1 - ticks0
    other = max(core1[0] - core0[0] - server_ticks, 0)
    problems = check(burst, answers, stand_ins)
    lateness = sorted(stand_ins.lateness) or [0.0]
    result = {
        "target": target,
        "run": number,
        "events": len(burst),
        "drain_s": drained,
        "cpu_s": server_ticks / CLK_TCK,
        "peak_rss_kb": hwm,
        "server_core_other_pct": 100 * (other + core1[2] - core0[2]) / max(core1[1] - core0[1], 1),
        "load_core_busy_pct": 100 * (load1[0] - load0[0]) / max(load1[1] - load0[1], 1),
        # The load's core, less this script's own CPU: other processes, and the kernel's
        # loopback work not charged to this script.
        "load_core_other_pct": max(
            100 * (load1[0] - load0[0] + load1[2] - load0[2]) / max(load1[1] - load0[1], 1) - 100 * loop_cpu / drained, 0
        ),
        "harness_cpu_s": loop_cpu,
        "standin_late_p50_ms": 1000 * lateness[len(lateness) // 2],
        "standin_late_p99_ms": 1000 * lateness[int(len(lateness) * 0.99)],
        "standin_late_max_ms": 1000 * lateness[-1],
        "asked": dict(stand_ins.asked),
        "standin_connections": stand_ins.connections,
        "problems": problems,
    }
    if binary:
        result["binary_sha256"] = binary
    if number == 1:
        RAW.mkdir(parents=True, exist_ok=True)
        if answers[0]:
            (RAW / f"{target}.answer.json").write_bytes(answers[0][1])
        if stand_ins.slack_bodies:
            (RAW / f"{target}.slack.json").write_bytes(stand_ins.slack_bodies[0])
        result["answer_bytes"] = len(answers[0][1]) if answers[0] else 0
        result["slack_bytes"] = len(stand_ins.slack_bodies[0]) if stand_ins.slack_bodies else 0
    return result


def check(burst, answers, stand_ins: StandIns) -> list:
    """What did not happen as it should: the answers, then what the stand-ins saw."""
    problems = []
    found = 0

    def problem(text):
        nonlocal found
        found += 1
        if len(problems) < 12:
            problems.append(text)

    for event, answer in zip(burst, answers):
        if answer is None:
            problem(f"event {event['id']}: no answer")
            continue
        status, body = answer
        if status != 200:
            problem(f"event {event['id']}: answered {status}: {body[:300]!r}")
            continue
        try:
            value = json.loads(body)["ReturnValue"]
            actions = [(a["action"], a["status"]) for a in value["actions"]]
        except (ValueError, KeyError, TypeError) as err:
            problem(f"event {event['id']}: no ReturnValue with actions ({err!r}): {body[:300]!r}")
            continue
        if value.get("eventId") != event["id"]:
            problem(f"event {event['id']}: the answer is about {value.get('eventId')!r}")
        if actions != [("enrich", "done"), ("notify", "done")]:
            problem(f"event {event['id']}: actions {actions}: {body[:400]!r}")

    runs = Counter(stand_ins.run_paths)
    for event in burst:
        seen = runs.pop(event["data"]["runId"], 0)
        if seen != 1:
            problem(f"run {event['data']['runId']}: {seen} run-history GETs, not 1")
    if runs:
        problem(f"run-history GETs of runs not in the burst: {sorted(runs)[:3]}")

    ids = {event["id"].encode(): 0 for event in burst}
    for body in stand_ins.slack_bodies:
        named = [guid for guid in set(GUID.findall(body)) if guid in ids]
        if len(named) != 1:
            problem(f"a Slack notice naming {len(named)} of the burst's event ids: {body[:300]!r}")
            continue
        ids[named[0]] += 1
        try:
            notice = json.loads(body)
            if not isinstance(notice.get("text"), str) or not isinstance(notice.get("blocks"), list):
                problem(f"a Slack notice without text and blocks: {body[:300]!r}")
        except ValueError:
            problem(f"a Slack notice that is not JSON: {body[:300]!r}")
        if RUN_ERROR_MARK.encode() not in body:
            problem(f"a Slack notice without the run's error from run history: {body[:400]!r}")
    for event_id, seen in ids.items():
        if seen != 1:
            problem(f"event {event_id.decode()}: {seen} Slack notices, not 1")
    for why in stand_ins.refused:
        problem(f"a stand-in refused a request: {why}")
    for kind in ("token", "workspace", "discovery"):
        if stand_ins.asked[kind] < 1:
            problem(f"no {kind} request reached the stand-ins")
    if found > len(problems):
        problems.append(f"... {found} problems in all")
    return problems


# ---------------------------------------------------------------------------------------------
# Setup, the report.
# ---------------------------------------------------------------------------------------------
def prepare(args) -> None:
    for tool in ("taskset",) + (("node", "npm") if "node" in args.targets else ()):
        if not shutil.which(tool):
            sys.exit(f"bench/burst.py: {tool} is not installed")
    if "node" in args.targets:
        installed = NODE_PEER / "node_modules/.package-lock.json"
        if not installed.exists() or (NODE_PEER / "package-lock.json").stat().st_mtime > installed.stat().st_mtime:
            log("node peer: npm ci")
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_PEER, check=True)
    if "python" in args.targets:
        if not (VENV / "bin/python").exists():
            log(f"python peer: creating {VENV}")
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        stamp = VENV / ".installed"
        if not stamp.exists() or (PY_PEER / "requirements.txt").stat().st_mtime > stamp.stat().st_mtime:
            log("python peer: pip install -r requirements.txt")
            subprocess.run(
                [str(VENV / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "-r", str(PY_PEER / "requirements.txt")],
                check=True,
            )
            stamp.touch()
    if "aml-handlers" in args.targets:
        if args.build:
            log("cargo build --release --locked --bin aml-handlers")
            subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "aml-handlers"], cwd=ROOT, check=True)
        elif not args.binary.exists():
            sys.exit(f"bench/burst.py: {args.binary} is missing: cargo build --release --bin aml-handlers")
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 cores; the server and the load share one")


def command_output(command, **kwargs) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, **kwargs).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(args) -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    dirty = command_output(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)
    facts = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]),
        "commit": command_output(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT),
        "tree": "with uncommitted changes" if dirty and dirty != "?" else "clean",
        "rustc": command_output(["rustc", "--version"]).split(" ")[1:2] or ["?"],
        "python": platform.python_version(),
    }
    facts["rustc"] = facts["rustc"][0]
    if "aml-handlers" in args.targets and args.binary.exists():
        facts["binary_sha256"] = file_sha256(args.binary)
    if "node" in args.targets:
        facts["node"] = command_output(["node", "--version"])
        lock = json.loads((NODE_PEER / "package-lock.json").read_text())["packages"]
        facts["node_packages"] = ", ".join(
            f"{name} {lock[f'node_modules/{name}']['version']}" for name in ("express", "@azure/eventgrid")
        )
    if "python" in args.targets:
        facts["peer_python"] = command_output([str(VENV / "bin/python"), "-c", "import platform; print(platform.python_version())"])
        facts["python_packages"] = command_output(
            [str(VENV / "bin/python"), "-c",
             "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in ('aiohttp', 'azure-eventgrid')))"]
        )
    return facts


def median(values):
    return statistics.median(values)


def summary(results: list, target: str) -> dict:
    mine = [r for r in results if r["target"] == target]
    return {
        "drain_s": median([r["drain_s"] for r in mine]),
        "cpu_s": median([r["cpu_s"] for r in mine]),
        "peak_rss_kb": median([r["peak_rss_kb"] for r in mine]),
        "runs": mine,
    }


def spread(runs, key, fmt) -> str:
    values = sorted(r[key] for r in runs)
    return f"{fmt(values[0])}–{fmt(values[-1])}"


def report(results: list, facts: dict, args) -> str:
    bound = args.events / args.concurrency * 2 * args.delay_ms / 1000
    # What a target and a load that cost nothing would take: the busiest connections carry
    # ceil(events / concurrency) events, and the first also waits for the token, the workspace
    # and the discovery document.
    ideal = ((-(-args.events // args.concurrency)) * 2 + 3) * args.delay_ms / 1000
    rows = {target: summary(results, target) for target in args.targets}
    out = [f"# Live burst: {args.events:,} failed runs, {args.concurrency} at a time, enrich + Slack\n"]
    versions = [f"python {facts['python']} (harness)"]
    if facts.get("rustc", "?") != "?":
        versions.insert(0, f"rustc {facts['rustc']}")
    if "node" in facts:
        versions.append(f"node {facts['node']} ({facts['node_packages']})")
    if "peer_python" in facts:
        versions.append(f"python {facts['peer_python']} ({facts['python_packages']})")
    built = f"aml-handlers built from commit {facts['commit']} ({facts['tree']})"
    binaries = sorted({r["binary_sha256"] for r in results if "binary_sha256" in r})
    if len(binaries) == 1:
        built += f", binary sha256 {binaries[0]}"
    elif binaries:
        built += f", **the binary changed during the runs** (sha256 {', '.join(binaries)}: see every run)"
    out.append(
        f"Machine: {facts['cores']} cores, {facts['cpu']}, {facts['kernel']}; {facts['date']}; "
        f"load average before the run {facts['loadavg']}.  \n"
        f"Versions: {', '.join(versions)}; {built}.  \n"
        f"Run: each server a fresh process alone on core {args.server_cpu} (`taskset`), the load and the "
        f"stand-ins on core {args.load_cpu}; {args.events:,} host-shaped, distinct RunStatusChanged invocations "
        f"(runStatus Failed), {args.concurrency} in flight over keep-alive connections; every stand-in "
        f"answers after {args.delay_ms:g} ms; {args.runs} fresh processes per target, round-robin, the median shown. "
        f"Bound: {args.events:,} / {args.concurrency} x 2 round trips x {args.delay_ms:g} ms = {bound:.3f} s; "
        f"a target and load that cost nothing would take {ideal:.3f} s (the busiest connections carry "
        f"{-(-args.events // args.concurrency)} events, and the first waits for the token, workspace and discovery).\n"
    )
    out.append("| target | drain s | CPU s | CPU ms/event | peak RSS MB |")
    out.append("|---|---:|---:|---:|---:|")
    for target, row in rows.items():
        out.append(
            f"| {LABELS[target]} | {row['drain_s']:.3f} | {row['cpu_s']:.2f} | "
            f"{1000 * row['cpu_s'] / args.events:.3f} | {row['peak_rss_kb'] / 1024:.1f} |"
        )
    out.append("")
    details = []
    for target, row in rows.items():
        runs = row["runs"]
        asked = runs[0]["asked"]
        details.append(
            f"{target}: drain {spread(runs, 'drain_s', lambda v: f'{v:.3f}')} s, "
            f"CPU {spread(runs, 'cpu_s', lambda v: f'{v:.2f}')} s, "
            f"peak RSS {spread(runs, 'peak_rss_kb', lambda v: f'{v / 1024:.1f}')} MB; "
            f"{asked.get('token', 0)} token, {asked.get('workspace', 0)} workspace and "
            f"{asked.get('discovery', 0)} discovery fetch(es) in run 1; "
            f"its core at most {max(r['server_core_other_pct'] for r in runs):.0f}% and the load's "
            f"{max(r['load_core_other_pct'] for r in runs):.0f}% busy with other work; "
            f"answer {runs[0].get('answer_bytes', 0)} bytes, Slack notice {runs[0].get('slack_bytes', 0)} bytes"
        )
    out.append("Details (min–max over the runs): " + "; ".join(details) + ".\n")
    out.append(
        "The load and the stand-ins (core {cpu}): this script used {lo:.0f}–{hi:.0f}% of its core during the "
        "drains (the core was {clo:.0f}–{chi:.0f}% busy in all, the kernel's loopback work included); the "
        "stand-ins sent their answers {p50:.2f} ms (median of the runs' medians), {p99:.2f} ms (worst p99) and "
        "{mx:.2f} ms (worst) after their {d:g} ms.{null}\n".format(
            cpu=args.load_cpu,
            lo=min(100 * r["harness_cpu_s"] / r["drain_s"] for r in results),
            hi=max(100 * r["harness_cpu_s"] / r["drain_s"] for r in results),
            clo=min(r["load_core_busy_pct"] for r in results),
            chi=max(r["load_core_busy_pct"] for r in results),
            p50=median([r["standin_late_p50_ms"] for r in results]),
            p99=max(r["standin_late_p99_ms"] for r in results),
            mx=max(r["standin_late_max_ms"] for r in results),
            d=args.delay_ms,
            null=(
                f" The null check (the same calls from a raw-asyncio handler, nothing else) drained in "
                f"{rows[NULL]['drain_s']:.3f} s at {1000 * rows[NULL]['cpu_s'] / args.events:.3f} ms of CPU per "
                f"event: the floor of this machine and load for a handler that costs about that."
                if NULL in rows else ""
            ),
        )
    )
    if "aml-handlers" in rows:
        ours = rows["aml-handlers"]
        out.append("### Ratios (aml-handlers to each peer)\n")
        for peer in ("node", "python"):
            if peer in rows:
                theirs = rows[peer]
                out.append(
                    f"- vs {peer}: drain {ours['drain_s']:.3f} vs {theirs['drain_s']:.3f} s "
                    f"({theirs['drain_s'] / ours['drain_s']:.1f}x faster), "
                    f"**1/{theirs['cpu_s'] / ours['cpu_s']:.1f}** of the CPU seconds, "
                    f"peak RSS 1/{theirs['peak_rss_kb'] / ours['peak_rss_kb']:.1f}"
                )
        out.append("\n### Targets\n")
        out.append("| target | wanted | measured | |")
        out.append("|---|---|---|---|")

        def verdict(ok):
            return "met" if ok else "**missed**"

        limit = bound * DRAIN_SLACK
        out.append(
            f"| drain time | <= {limit:.3f} s (the bound + 25%) | {ours['drain_s']:.3f} s "
            f"({ours['drain_s'] / bound:.2f}x the bound) | {verdict(ours['drain_s'] <= limit)} |"
        )
        for peer, wanted in (("node", CPU_VS_NODE), ("python", CPU_VS_PYTHON)):
            if peer in rows:
                ratio = rows[peer]["cpu_s"] / ours["cpu_s"]
                out.append(f"| CPU seconds vs {peer} | <= 1/{wanted} | 1/{ratio:.1f} | {verdict(ratio >= wanted)} |")
        if "node" in rows:
            ratio = rows["node"]["peak_rss_kb"] / ours["peak_rss_kb"]
            out.append(f"| peak RSS vs node | <= 1/{RSS_VS_NODE} | 1/{ratio:.1f} | {verdict(ratio >= RSS_VS_NODE)} |")
        out.append("")
    out.append("### Every run\n")
    out.append("| target | run | drain s | CPU s | peak RSS MB | server's core, other work | load's core, other work | stand-ins late, p99 ms | tries |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        name = f"{r['target']} ({r['binary_sha256']})" if len(binaries) > 1 and "binary_sha256" in r else r["target"]
        out.append(
            f"| {name} | {r['run']} | {r['drain_s']:.3f} | {r['cpu_s']:.2f} | {r['peak_rss_kb'] / 1024:.1f} | "
            f"{r['server_core_other_pct']:.0f}% | {r['load_core_other_pct']:.0f}% | {r['standin_late_p99_ms']:.2f} | {r['tries']} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(TARGETS + (NULL,)),
                        help="comma-separated, from aml-handlers,node,python,null (default: all four); "
                        "null is the null check: a raw-asyncio handler in this script making the same calls and "
                        "nothing else, whose drain time is the floor of this machine, load and stand-ins")
    parser.add_argument("--runs", type=int, default=5, help="fresh server processes per target (default 5)")
    parser.add_argument("--events", type=int, default=2000, help="failed runs per burst (default 2000)")
    parser.add_argument("--concurrency", type=int, default=64, help="invocations in flight (default 64)")
    parser.add_argument("--delay-ms", type=float, default=20, help="each stand-in's answer time (default 20)")
    parser.add_argument("--server-cpu", type=int, default=0, help="the server's core (default 0)")
    parser.add_argument("--load-cpu", type=int, default=1, help="this script's core: load and stand-ins (default 1)")
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="seconds to wait before each run for the machine to be under 10%% busy (default 60; 0: don't)")
    parser.add_argument("--noise-pct", type=float, default=5,
                        help="a run during which more than this %% of the server's core, or of the load's, went to other "
                        "work is run again (default 5)")
    parser.add_argument("--noise-retries", type=int, default=2, help="how many times (default 2)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a burst may take before its run fails (default 120)")
    parser.add_argument("--binary", type=Path, default=BINARY, help="the aml-handlers binary (default target/release/aml-handlers)")
    parser.add_argument("--no-build", dest="build", action="store_false",
                        help="use the binary as it is instead of running cargo build --release first")
    parser.add_argument("--log-dir", type=Path, help="keep each server's stdout and stderr here (default: /dev/null)")
    parser.add_argument("--out", type=Path, default=RESULTS / "burst-latest.md", help="the report (default bench/results/burst-latest.md)")
    parser.add_argument("--serve-null", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_null:  # the null target's server process, started by this script
        asyncio.run(serve_null())
        return
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in args.targets if t not in TARGETS + (NULL,)]
    if unknown or not args.targets:
        parser.error(f"unknown target(s) {unknown}: choose from {','.join(TARGETS + (NULL,))}")
    if args.runs < 1 or args.events < 1 or args.concurrency < 1:
        parser.error("--runs, --events and --concurrency must be at least 1")

    prepare(args)
    os.sched_setaffinity(0, {args.load_cpu})
    facts = machine(args)
    results = []
    failures = []
    for number in range(1, args.runs + 1):
        for target in args.targets:
            # A run during which other work took more than --noise-pct of the server's core or
            # of the load's is run again (a fresh process), up to --noise-retries times; the
            # report shows the tries.
            for tries in range(1, args.noise_retries + 2):
                wait_quiet(args.quiet_wait, 10)
                try:
                    result = asyncio.run(one_run(target, number, args))
                except (RuntimeError, OSError) as err:
                    result = {"target": target, "run": number, "problems": [f"{type(err).__name__}: {err}"]}
                result["tries"] = tries
                if result["problems"]:
                    break
                noise = max(result["server_core_other_pct"], result["load_core_other_pct"])
                if noise <= args.noise_pct:
                    break
                if tries <= args.noise_retries:
                    log(f"{target} run {number}: {noise:.0f}% of a core went to other work; again")
            results.append(result)
            line = f"{target} run {number}/{args.runs}"
            if "drain_s" in result:
                line += (
                    f": drain {result['drain_s']:.3f} s, CPU {result['cpu_s']:.2f} s, "
                    f"peak RSS {result['peak_rss_kb'] / 1024:.1f} MB"
                )
            if result["problems"]:
                failures.append(result)
                log(line + ": THE WORK DID NOT HAPPEN AS IT SHOULD")
                for text in result["problems"]:
                    print(f"    {text}", file=sys.stderr)
            else:
                log(line)
    RAW.mkdir(parents=True, exist_ok=True)
    (RAW / "runs.json").write_text(json.dumps({"machine": facts, "runs": results}, indent=2))
    if failures:
        sys.exit(f"bench/burst.py: {len(failures)} run(s) failed their checks (see above and {RAW / 'runs.json'}); no report")
    text = report(results, facts, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
