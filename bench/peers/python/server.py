"""The aml-handlers custom-handler job written the way a Python user would: aiohttp and Azure's
own azure-eventgrid SDK. It serves the Functions host protocol (docs/answers.md) for the five Azure ML
functions, as a dry run (no Azure credentials, no AML_NOTIFY_URL): every action reports what it
would do or why it was skipped (docs/actions.md). A benchmark peer, not tuned."""

import logging
import os
import re

from aiohttp import web

from host import BadInvocation, answer, read_events

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("aml-handlers-python-peer")

FUNCTIONS = {
    "ModelRegistered": "Microsoft.MachineLearningServices.ModelRegistered",
    "ModelDeployed": "Microsoft.MachineLearningServices.ModelDeployed",
    "RunCompleted": "Microsoft.MachineLearningServices.RunCompleted",
    "DatasetDriftDetected": "Microsoft.MachineLearningServices.DatasetDriftDetected",
    "RunStatusChanged": "Microsoft.MachineLearningServices.RunStatusChanged",
}

NOTIFY_URL = os.environ.get("AML_NOTIFY_URL")
NOTIFY_ON = [
    name.strip()
    for name in os.environ.get(
        "AML_NOTIFY_ON", "ModelRegistered,ModelDeployed,DatasetDriftDetected,RunStatusChanged"
    ).split(",")
    if name.strip()
]
NOTIFY_RUN_STATUSES = [
    status.strip().lower() for status in os.environ.get("AML_NOTIFY_RUN_STATUSES", "Failed,Canceled").split(",")
]
RETRAIN_THRESHOLD = float(os.environ.get("AML_RETRAIN_DRIFT_THRESHOLD", "0.3"))
RETRAIN_JOB_FILE = os.environ.get("AML_RETRAIN_JOB_FILE")
SMOKE_TEST_URI = os.environ.get("AML_SMOKE_TEST_URI")
ARM_ENDPOINT = os.environ.get("AML_ARM_ENDPOINT", "https://management.azure.com")
ARM_API_VERSION = "2024-04-01"
NO_WORKSPACE = "the event's topic is not an Azure ML workspace resource id"

WORKSPACE = re.compile(
    r"^/subscriptions/([^/{}]+)/resourceGroups/([^/{}]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/([^/{}]+)$",
    re.IGNORECASE,
)


def workspace_of(event):
    match = WORKSPACE.match(event.topic or "")
    if not match:
        return None
    sub, rg, ws = match.groups()
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"


def notify(function, text):
    if function not in NOTIFY_ON:
        return {"action": "notify", "status": "skipped", "detail": f"{function} is not in AML_NOTIFY_ON"}
    if not NOTIFY_URL:
        return {"action": "notify", "status": "skipped", "detail": "AML_NOTIFY_URL is not set"}
    return {"action": "notify", "status": "dry-run", "request": f"POST {NOTIFY_URL}", "detail": f"would post: {text}"}


def enrich(event):
    workspace = workspace_of(event)
    data = event.data or {}
    experiment, run = data.get("experimentName"), data.get("runId")
    if not workspace:
        return {"action": "enrich", "status": "skipped", "detail": NO_WORKSPACE}
    if not experiment or not run:
        return {"action": "enrich", "status": "skipped", "detail": "the event names no experimentName and runId"}
    return {
        "action": "enrich",
        "status": "dry-run",
        "request": f"GET {ARM_ENDPOINT}{workspace}?api-version={ARM_API_VERSION}",
        "detail": f"would read run {run} of experiment {experiment} from run history via the workspace's discovery URL",
    }


def model_registered(event):
    data = event.data or {}
    return [notify("ModelRegistered", f"Model {data.get('modelName')} version {data.get('modelVersion')} was registered")]


def model_deployed(event):
    data = event.data or {}
    if SMOKE_TEST_URI:
        smoke_test = {
            "action": "smoke-test",
            "status": "dry-run",
            "request": f"POST {SMOKE_TEST_URI}",
            "detail": "would score the endpoint once and record status and latency",
        }
    else:
        smoke_test = {"action": "smoke-test", "status": "skipped", "detail": "AML_SMOKE_TEST_URI is not set"}
    text = f"Service {data.get('serviceName')} was deployed with {data.get('modelIds')}"
    return [smoke_test, notify("ModelDeployed", text)]


def run_completed(event):
    if "RunCompleted" not in NOTIFY_ON:
        return [{"action": "notify", "status": "skipped", "detail": "RunCompleted is not in AML_NOTIFY_ON"}]
    data = event.data or {}
    text = f"Run {data.get('runId')} of experiment {data.get('experimentName')} completed"
    return [enrich(event), notify("RunCompleted", text)]


def dataset_drift_detected(event):
    data = event.data or {}
    drift = data.get("driftCoefficient")
    workspace = workspace_of(event)
    if not isinstance(drift, (int, float)):
        retrain = {"action": "retrain", "status": "skipped", "detail": "the event carries no driftCoefficient"}
    elif drift < RETRAIN_THRESHOLD:
        retrain = {
            "action": "retrain",
            "status": "skipped",
            "detail": f"driftCoefficient {drift} is below AML_RETRAIN_DRIFT_THRESHOLD {RETRAIN_THRESHOLD}",
        }
    elif not RETRAIN_JOB_FILE:
        retrain = {"action": "retrain", "status": "skipped", "detail": "AML_RETRAIN_JOB_FILE is not set"}
    elif not workspace:
        retrain = {"action": "retrain", "status": "skipped", "detail": NO_WORKSPACE}
    else:
        name = re.sub(r"[^a-z0-9-]", "-", f"retrain-{event.id}".lower())
        retrain = {
            "action": "retrain",
            "status": "dry-run",
            "request": f"PUT {ARM_ENDPOINT}{workspace}/jobs/{name}?api-version={ARM_API_VERSION}",
            "detail": f"driftCoefficient {drift} reaches {RETRAIN_THRESHOLD}: would create job {name} from {RETRAIN_JOB_FILE}",
        }
    text = (
        f"Drift monitor {data.get('dataDriftName')} detected drift {drift} on dataset "
        f"{data.get('targetDatasetId')}; retraining: {retrain['detail']}"
    )
    return [retrain, notify("DatasetDriftDetected", text)]


def run_status_changed(event):
    data = event.data or {}
    status = data.get("runStatus") or "(none)"
    if str(status).lower() not in NOTIFY_RUN_STATUSES:
        return [{"action": "notify", "status": "skipped", "detail": f"status {status} is not in AML_NOTIFY_RUN_STATUSES"}]
    text = f"Run {data.get('runId')} of experiment {data.get('experimentName')} is now {status}"
    return [enrich(event), notify("RunStatusChanged", text)]


HANDLERS = {
    "ModelRegistered": model_registered,
    "ModelDeployed": model_deployed,
    "RunCompleted": run_completed,
    "DatasetDriftDetected": dataset_drift_detected,
    "RunStatusChanged": run_status_changed,
}


routes = web.RouteTableDef()


@routes.get("/")
async def ready(request):
    return web.json_response({"name": "aml-handlers-python-peer", "version": "1.0.0", "functions": list(FUNCTIONS)})


@routes.post("/{function}")
async def invoke(request):
    function = request.match_info["function"]
    if function not in HANDLERS:
        return web.json_response({"error": {"message": f"unknown function {function}"}}, status=404)
    try:
        events = await read_events(request)
    except BadInvocation as err:
        log.error("%s: bad invocation: %s", function, err)
        return err.answer()

    logs, outcomes = [], []
    for event in events:
        if event.event_type != FUNCTIONS[function]:
            note = f"event type {event.event_type} is not {function}'s"
            log.warning("%s %s: %s", function, event.id, note)
            outcome = {"function": function, "eventId": event.id, "eventType": event.event_type, "actions": [], "note": note}
            logs.append(f"{function} {event.id}: {note}")
        else:
            actions = HANDLERS[function](event)
            outcome = {"function": function, "eventId": event.id, "eventType": event.event_type, "actions": actions}
            logs.extend(f"{function} {event.id}: {a['action']} {a['status']}: {a['detail']}" for a in actions)
        log.info(
            "event handled event_id=%s event_type=%s actions=%s",
            event.id,
            event.event_type,
            ", ".join(f"{a['action']}={a['status']}" for a in outcome["actions"]),
        )
        outcomes.append(outcome)
    return answer(logs, outcomes)


def main():
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes(routes)
    port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT", "3000"))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None)


if __name__ == "__main__":
    main()
