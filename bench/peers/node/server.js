// The aml-handlers custom-handler job written the way a Node.js user would: express and
// Azure's own @azure/eventgrid SDK. It serves the Functions host protocol (docs/answers.md) for the five
// Azure ML functions, as a dry run (no Azure credentials, no AML_NOTIFY_URL): every action
// reports what it would do or why it was skipped (docs/actions.md). A benchmark peer, not tuned.

const express = require("express");
const { BadInvocation, answer, readEvents } = require("./host");

const FUNCTIONS = {
  ModelRegistered: "Microsoft.MachineLearningServices.ModelRegistered",
  ModelDeployed: "Microsoft.MachineLearningServices.ModelDeployed",
  RunCompleted: "Microsoft.MachineLearningServices.RunCompleted",
  DatasetDriftDetected: "Microsoft.MachineLearningServices.DatasetDriftDetected",
  RunStatusChanged: "Microsoft.MachineLearningServices.RunStatusChanged",
};

const settings = {
  notifyUrl: process.env.AML_NOTIFY_URL,
  notifyOn: (process.env.AML_NOTIFY_ON || "ModelRegistered,ModelDeployed,DatasetDriftDetected,RunStatusChanged")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean),
  notifyRunStatuses: (process.env.AML_NOTIFY_RUN_STATUSES || "Failed,Canceled")
    .split(",")
    .map((status) => status.trim().toLowerCase()),
  retrainThreshold: Number(process.env.AML_RETRAIN_DRIFT_THRESHOLD || "0.3"),
  retrainJobFile: process.env.AML_RETRAIN_JOB_FILE,
  smokeTestUri: process.env.AML_SMOKE_TEST_URI,
  armEndpoint: process.env.AML_ARM_ENDPOINT || "https://management.azure.com",
};
const ARM_API_VERSION = "2024-04-01";
const NO_WORKSPACE = "the event's topic is not an Azure ML workspace resource id";

// "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
function workspaceOf(event) {
  const match = /^\/subscriptions\/([^/{}]+)\/resourceGroups\/([^/{}]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/{}]+)$/i.exec(
    event.topic || ""
  );
  return match ? `/subscriptions/${match[1]}/resourceGroups/${match[2]}/providers/Microsoft.MachineLearningServices/workspaces/${match[3]}` : null;
}

function notify(fn, text) {
  if (!settings.notifyOn.includes(fn)) {
    return { action: "notify", status: "skipped", detail: `${fn} is not in AML_NOTIFY_ON` };
  }
  if (!settings.notifyUrl) {
    return { action: "notify", status: "skipped", detail: "AML_NOTIFY_URL is not set" };
  }
  return { action: "notify", status: "dry-run", request: `POST ${settings.notifyUrl}`, detail: `would post: ${text}` };
}

function enrich(event) {
  const workspace = workspaceOf(event);
  const { experimentName, runId } = event.data || {};
  if (!workspace) return { action: "enrich", status: "skipped", detail: NO_WORKSPACE };
  if (!experimentName || !runId) {
    return { action: "enrich", status: "skipped", detail: "the event names no experimentName and runId" };
  }
  return {
    action: "enrich",
    status: "dry-run",
    request: `GET ${settings.armEndpoint}${workspace}?api-version=${ARM_API_VERSION}`,
    detail: `would read run ${runId} of experiment ${experimentName} from run history via the workspace's discovery URL`,
  };
}

const handlers = {
  ModelRegistered(event) {
    const data = event.data || {};
    return [notify("ModelRegistered", `Model ${data.modelName} version ${data.modelVersion} was registered`)];
  },
  ModelDeployed(event) {
    const data = event.data || {};
    const smokeTest = settings.smokeTestUri
      ? { action: "smoke-test", status: "dry-run", request: `POST ${settings.smokeTestUri}`, detail: "would score the endpoint once and record status and latency" }
      : { action: "smoke-test", status: "skipped", detail: "AML_SMOKE_TEST_URI is not set" };
    return [smokeTest, notify("ModelDeployed", `Service ${data.serviceName} was deployed with ${data.modelIds}`)];
  },
  RunCompleted(event) {
    if (!settings.notifyOn.includes("RunCompleted")) {
      return [{ action: "notify", status: "skipped", detail: "RunCompleted is not in AML_NOTIFY_ON" }];
    }
    const data = event.data || {};
    return [enrich(event), notify("RunCompleted", `Run ${data.runId} of experiment ${data.experimentName} completed`)];
  },
  DatasetDriftDetected(event) {
    const data = event.data || {};
    const drift = data.driftCoefficient;
    const workspace = workspaceOf(event);
    let retrain;
    if (typeof drift !== "number") {
      retrain = { action: "retrain", status: "skipped", detail: "the event carries no driftCoefficient" };
    } else if (drift < settings.retrainThreshold) {
      retrain = { action: "retrain", status: "skipped", detail: `driftCoefficient ${drift} is below AML_RETRAIN_DRIFT_THRESHOLD ${settings.retrainThreshold}` };
    } else if (!settings.retrainJobFile) {
      retrain = { action: "retrain", status: "skipped", detail: "AML_RETRAIN_JOB_FILE is not set" };
    } else if (!workspace) {
      retrain = { action: "retrain", status: "skipped", detail: NO_WORKSPACE };
    } else {
      const name = `retrain-${event.id}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
      retrain = {
        action: "retrain",
        status: "dry-run",
        request: `PUT ${settings.armEndpoint}${workspace}/jobs/${name}?api-version=${ARM_API_VERSION}`,
        detail: `driftCoefficient ${drift} reaches ${settings.retrainThreshold}: would create job ${name} from ${settings.retrainJobFile}`,
      };
    }
    const text = `Drift monitor ${data.dataDriftName} detected drift ${drift} on dataset ${data.targetDatasetId}; retraining: ${retrain.detail}`;
    return [retrain, notify("DatasetDriftDetected", text)];
  },
  RunStatusChanged(event) {
    const data = event.data || {};
    const status = data.runStatus || "(none)";
    if (!settings.notifyRunStatuses.includes(String(status).toLowerCase())) {
      return [{ action: "notify", status: "skipped", detail: `status ${status} is not in AML_NOTIFY_RUN_STATUSES` }];
    }
    return [enrich(event), notify("RunStatusChanged", `Run ${data.runId} of experiment ${data.experimentName} is now ${status}`)];
  },
};

const app = express();
app.use(express.json({ limit: "4mb" }));

app.get("/", (req, res) => {
  res.json({ name: "aml-handlers-node-peer", version: "1.0.0", functions: Object.keys(FUNCTIONS) });
});

app.post("/:fn", async (req, res) => {
  const fn = req.params.fn;
  if (!handlers[fn]) {
    return res.status(404).json({ error: { message: `unknown function ${fn}` } });
  }
  let events;
  try {
    events = await readEvents(req);
  } catch (err) {
    if (!(err instanceof BadInvocation)) throw err;
    console.error(`${fn}: bad invocation: ${err.message}`);
    return err.answer(res);
  }
  const logs = [];
  const outcomes = events.map((event) => {
    let outcome;
    if (event.eventType !== FUNCTIONS[fn]) {
      outcome = { function: fn, eventId: event.id, eventType: event.eventType, actions: [], note: `event type ${event.eventType} is not ${fn}'s` };
      console.warn(`${fn} ${event.id}: ${outcome.note}`);
      logs.push(`${fn} ${event.id}: ${outcome.note}`);
    } else {
      outcome = { function: fn, eventId: event.id, eventType: event.eventType, actions: handlers[fn](event) };
      for (const action of outcome.actions) logs.push(`${fn} ${event.id}: ${action.action} ${action.status}: ${action.detail}`);
    }
    console.error(`event handled event_id=${event.id} event_type=${event.eventType} actions=${outcome.actions.map((a) => `${a.action}=${a.status}`).join(", ")}`);
    return outcome;
  });
  answer(res, logs, outcomes);
});

const port = Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT || 3000);
app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
