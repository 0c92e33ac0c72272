"""The live-burst job (bench/burst.py) written the way a Python user would: aiohttp, Azure's own
azure-eventgrid SDK, and one shared aiohttp.ClientSession (its connector keeps connections
alive). For a failed run (RunStatusChanged), as aml-handlers does it: a token from the managed
identity (cached until five minutes before it expires, one fetch shared by concurrent events),
the workspace's discoveryUrl and the regional API (cached per workspace), the run from run
history, then a Slack Block Kit notice with its error; the Functions host is answered
{"Outputs": {}, "Logs": [...], "ReturnValue": outcome}. A benchmark peer, plain and not tuned."""

import asyncio
import logging
import os
import re
import time
from datetime import datetime
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from host import BadInvocation, answer, read_events

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("aml-handlers-python-burst-peer")

RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
ARM_API_VERSION = "2024-04-01"
RUN_HISTORY_API_VERSION = "2019-11-01"

IDENTITY_ENDPOINT = os.environ.get("IDENTITY_ENDPOINT")
IDENTITY_HEADER = os.environ.get("IDENTITY_HEADER")
ARM_ENDPOINT = os.environ.get("AML_ARM_ENDPOINT", "https://management.azure.com")
# "slack:https://..." names the kind when the host does not tell it (a stand-in).
SLACK_URL = re.sub(r"^slack:", "", os.environ.get("AML_NOTIFY_URL", ""))
# Where notices go, as an outcome shows it: the origin only (the path holds the webhook's key).
SLACK_SHOWN = "POST {0.scheme}://{0.netloc}/…".format(urlsplit(SLACK_URL))
NOTIFY_RUN_STATUSES = [s.strip().lower() for s in os.environ.get("AML_NOTIFY_RUN_STATUSES", "Failed,Canceled").split(",")]

WORKSPACE = re.compile(
    r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)$",
    re.IGNORECASE,
)


class Azure:
    """The managed identity's token and the workspaces' regional APIs, cached."""

    def __init__(self, session: aiohttp.ClientSession):
        self.session = session
        self.token = None
        self.expires_on = 0.0
        self.token_lock = asyncio.Lock()
        self.apis = {}
        self.discovery_lock = asyncio.Lock()

    async def get_json(self, url, headers=None, params=None):
        async with self.session.get(url, headers=headers, params=params) as response:
            response.raise_for_status()
            return await response.json()

    async def get_token(self) -> str:
        # https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
        async with self.token_lock:
            if self.token is None or self.expires_on - time.time() < 300:
                body = await self.get_json(
                    IDENTITY_ENDPOINT,
                    headers={"X-IDENTITY-HEADER": IDENTITY_HEADER},
                    params={"api-version": "2019-08-01", "resource": "https://management.azure.com/"},
                )
                self.token, self.expires_on = body["access_token"], float(body["expires_on"])
            return self.token

    async def regional_api(self, workspace: str) -> str:
        # https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest
        async with self.discovery_lock:
            if workspace not in self.apis:
                headers = {"Authorization": f"Bearer {await self.get_token()}"}
                ws = await self.get_json(f"{ARM_ENDPOINT}{workspace}", headers, {"api-version": ARM_API_VERSION})
                document = await self.get_json(ws["properties"]["discoveryUrl"])
                self.apis[workspace] = document["api"]
            return self.apis[workspace]

    async def get_run(self, workspace: str, experiment: str, run_id: str) -> dict:
        api = await self.regional_api(workspace)
        url = f"{api}/history/v1.0{workspace}/experiments/{quote(experiment)}/runs/{quote(run_id)}"
        headers = {"Authorization": f"Bearer {await self.get_token()}"}
        return await self.get_json(url, headers, {"api-version": RUN_HISTORY_API_VERSION})


def escape(text) -> str:
    """Slack mrkdwn: & < > as entities. https://api.slack.com/reference/surfaces/formatting#escaping"""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text) -> dict:
    return {"type": "mrkdwn", "text": escape(text), "verbatim": True}


def cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def ran_for(run: dict) -> str:
    try:
        start, end = (datetime.fromisoformat(run[key]) for key in ("startTimeUtc", "endTimeUtc"))
    except (KeyError, TypeError, ValueError):
        return ""
    seconds = round((end - start).total_seconds())
    return f" after {seconds} s" if seconds < 60 else f" after {round(seconds / 60)} min"


def slack_message(event, match, run, problem):
    """The notice as a Block Kit message: https://api.slack.com/reference/block-kit/blocks"""
    experiment, run_id = event.data["experimentName"], event.data["runId"]
    sub, rg, ws = match.groups()
    title = f"🔴 FAILED · {cut(f'Run {run_id} failed in {experiment}', 80)}"
    if run is not None:
        on = f" on {run['target']}" if run.get("target") else ""
        summary = f"Run {run_id} of experiment {experiment} failed{ran_for(run)}{on}"
    else:
        summary = f"Run {run_id} of experiment {experiment} failed (run details unavailable: {problem})"
    link = f"https://ml.azure.com/runs/{quote(run_id)}?wsid=/subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title, 150), "emoji": True}},
        {"type": "context", "elements": [mrkdwn(f"{ws} · {event.event_time:%Y-%m-%d %H:%M:%S} UTC")]},
        {"type": "section", "text": mrkdwn(summary)},
    ]
    error = ((run or {}).get("error") or {}).get("error", {}).get("message")
    if error:
        *traceback, exception = error.rstrip().split("\n")
        code = "\n".join(traceback)[-2500:]
        text = f"*{escape(exception)}*\n```\n{escape(code)}\n```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}})
    status = run["status"] if run is not None else event.data.get("runStatus")
    blocks += [
        {"type": "section", "fields": [mrkdwn(f"*Experiment*\n{experiment}"), mrkdwn(f"*Run*\n{run_id}"), mrkdwn(f"*Status*\n{status}")]},
        {"type": "context", "elements": [mrkdwn(f"Event id: {event.id}")]},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in Azure ML studio"}, "url": link}]},
    ]
    return summary, {"text": f"{escape(title)}\n{escape(summary)}", "blocks": blocks}


async def run_status_changed(azure: Azure, event) -> list:
    data = event.data or {}
    experiment, run_id, run_status = data.get("experimentName"), data.get("runId"), data.get("runStatus")
    if str(run_status).lower() not in NOTIFY_RUN_STATUSES:
        return [{"action": "notify", "status": "skipped", "detail": f"status {run_status} is not in AML_NOTIFY_RUN_STATUSES"}]
    match = WORKSPACE.match(event.topic or "")
    if not match or not experiment or not run_id:
        return [{"action": "enrich", "status": "skipped", "detail": "the event names no workspace, experimentName and runId: nothing done"}]
    workspace = match.group(0)
    request = f"GET {{discovered api}}/history/v1.0{workspace}/experiments/{experiment}/runs/{run_id}"
    actions, run, problem = [], None, None
    try:
        run = await azure.get_run(workspace, experiment, run_id)
        actions.append({"action": "enrich", "status": "done", "detail": f"run {run_id} is {run.get('status')}", "request": request})
    except (aiohttp.ClientError, asyncio.TimeoutError, KeyError) as err:
        problem = str(err)
        actions.append({"action": "enrich", "status": "failed", "detail": problem, "request": request})
    summary, message = slack_message(event, match, run, problem)
    try:
        async with azure.session.post(SLACK_URL, json=message) as response:
            answer = await response.text()
            if response.status != 200:
                raise aiohttp.ClientError(f"Slack answered {response.status}: {answer}")
        actions.append({"action": "notify", "status": "done", "detail": f"200 took it: {summary}", "request": SLACK_SHOWN, "target": "slack"})
    except (aiohttp.ClientError, asyncio.TimeoutError) as err:
        actions.append({"action": "notify", "status": "failed", "detail": str(err), "request": SLACK_SHOWN, "target": "slack"})
    return actions


routes = web.RouteTableDef()


@routes.get("/")
async def ready(request):
    return web.json_response({"name": "aml-handlers-python-burst-peer", "version": "1.0.0", "functions": ["RunStatusChanged"]})


@routes.post("/RunStatusChanged")
async def invoke(request):
    try:
        events = await read_events(request)
    except BadInvocation as err:
        log.error("RunStatusChanged: bad invocation: %s", err)
        return err.answer()

    azure = request.app["azure"]
    logs, outcomes = [], []
    for event in events:
        actions = await run_status_changed(azure, event) if event.event_type == RUN_STATUS_CHANGED else []
        logs.extend(f"RunStatusChanged {event.id}: {a['action']} {a['status']}: {a['detail']}" for a in actions)
        log.info(
            "event handled event_id=%s event_type=%s actions=%s",
            event.id,
            event.event_type,
            ", ".join(f"{a['action']}={a['status']}" for a in actions),
        )
        outcomes.append({"function": "RunStatusChanged", "eventId": event.id, "eventType": event.event_type, "actions": actions})
    return answer(logs, outcomes)


async def azure_client(app):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        app["azure"] = Azure(session)
        yield


def main():
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes(routes)
    app.cleanup_ctx.append(azure_client)
    port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT", "3000"))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None)


if __name__ == "__main__":
    main()
