// The live-burst job (bench/burst.py) written the way a Node.js user would: express 5, Azure's
// own @azure/eventgrid SDK, and the global fetch (undici's default agent keeps connections
// alive). For a failed run (RunStatusChanged), as aml-handlers does it: a token from the
// managed identity (cached until five minutes before it expires, one fetch shared by
// concurrent events), the workspace's discoveryUrl and the regional API (cached per
// workspace), the run from run history, then a Slack Block Kit notice with its error; the
// Functions host is answered {"Outputs": {}, "Logs": [...], "ReturnValue": outcome}.
// A benchmark peer, plain and not tuned.

const express = require("express");
const { BadInvocation, answer, readEvents } = require("./host");

const RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged";
const ARM_API_VERSION = "2024-04-01";
const RUN_HISTORY_API_VERSION = "2019-11-01";
const TIMEOUT_MS = 10_000;

const settings = {
  identityEndpoint: process.env.IDENTITY_ENDPOINT,
  identityHeader: process.env.IDENTITY_HEADER,
  armEndpoint: process.env.AML_ARM_ENDPOINT || "https://management.azure.com",
  // "slack:https://..." names the kind when the host does not tell it (a stand-in).
  slackUrl: (process.env.AML_NOTIFY_URL || "").replace(/^slack:/, ""),
  notifyRunStatuses: (process.env.AML_NOTIFY_RUN_STATUSES || "Failed,Canceled")
    .split(",")
    .map((status) => status.trim().toLowerCase()),
};

// Where notices go, as an outcome shows it: the origin only (the path holds the webhook's key).
const slackShown = `POST ${new URL(settings.slackUrl).origin}/…`;

// https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
let token = null;
let tokenRequest = null;
async function getToken() {
  if (token && token.expiresOn - Date.now() > 5 * 60 * 1000) return token.value;
  tokenRequest ??= fetchToken().finally(() => {
    tokenRequest = null;
  });
  token = await tokenRequest;
  return token.value;
}

async function fetchToken() {
  const url = new URL(settings.identityEndpoint);
  url.searchParams.set("api-version", "2019-08-01");
  url.searchParams.set("resource", "https://management.azure.com/");
  const body = await getJson(url, { "X-IDENTITY-HEADER": settings.identityHeader });
  return { value: body.access_token, expiresOn: Number(body.expires_on) * 1000 };
}

async function getJson(url, headers) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

// The workspace -> its discoveryUrl -> the regional API base, once per workspace.
// https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest
const regionalApi = new Map();
function discover(workspace) {
  if (!regionalApi.has(workspace)) {
    const discovery = (async () => {
      const headers = { Authorization: `Bearer ${await getToken()}` };
      const ws = await getJson(`${settings.armEndpoint}${workspace}?api-version=${ARM_API_VERSION}`, headers);
      const document = await getJson(ws.properties.discoveryUrl);
      return document.api;
    })();
    discovery.catch(() => regionalApi.delete(workspace));
    regionalApi.set(workspace, discovery);
  }
  return regionalApi.get(workspace);
}

async function getRun(workspace, experiment, runId) {
  const api = await discover(workspace);
  const url = `${api}/history/v1.0${workspace}/experiments/${encodeURIComponent(experiment)}/runs/${encodeURIComponent(runId)}?api-version=${RUN_HISTORY_API_VERSION}`;
  return getJson(url, { Authorization: `Bearer ${await getToken()}` });
}

// "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
const WORKSPACE = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)$/i;

// Slack mrkdwn: & < > as entities. https://api.slack.com/reference/surfaces/formatting#escaping
const escape = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const mrkdwn = (text) => ({ type: "mrkdwn", text: escape(text), verbatim: true });
const cut = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function ranFor(run) {
  const seconds = Math.round((Date.parse(run.endTimeUtc) - Date.parse(run.startTimeUtc)) / 1000);
  if (!(seconds >= 0)) return "";
  return seconds < 60 ? ` after ${seconds} s` : ` after ${Math.round(seconds / 60)} min`;
}

// The notice as a Block Kit message: https://api.slack.com/reference/block-kit/blocks
function slackMessage(event, match, run, problem) {
  const { experimentName, runId } = event.data;
  const [, sub, rg, ws] = match;
  const title = `🔴 FAILED · ${cut(`Run ${runId} failed in ${experimentName}`, 80)}`;
  const summary = run
    ? `Run ${runId} of experiment ${experimentName} failed${ranFor(run)}${run.target ? ` on ${run.target}` : ""}`
    : `Run ${runId} of experiment ${experimentName} failed (run details unavailable: ${problem})`;
  const link = `https://ml.azure.com/runs/${encodeURIComponent(runId)}?wsid=/subscriptions/${sub}/resourcegroups/${rg}/workspaces/${ws}`;
  const time = event.eventTime.toISOString().slice(0, 19).replace("T", " ");
  const blocks = [
    { type: "header", text: { type: "plain_text", text: cut(title, 150), emoji: true } },
    { type: "context", elements: [mrkdwn(`${ws} · ${time} UTC`)] },
    { type: "section", text: mrkdwn(summary) },
  ];
  const error = run && run.error && run.error.error && run.error.error.message;
  if (error) {
    const lines = error.trimEnd().split("\n");
    const exception = lines.pop();
    const traceback = lines.join("\n").slice(-2500);
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `*${escape(exception)}*\n\`\`\`\n${escape(traceback)}\n\`\`\``, verbatim: true },
    });
  }
  blocks.push(
    {
      type: "section",
      fields: [
        mrkdwn(`*Experiment*\n${experimentName}`),
        mrkdwn(`*Run*\n${runId}`),
        mrkdwn(`*Status*\n${run ? run.status : event.data.runStatus}`),
      ],
    },
    { type: "context", elements: [mrkdwn(`Event id: ${event.id}`)] },
    { type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open in Azure ML studio" }, url: link }] }
  );
  return { summary, body: { text: `${escape(title)}\n${escape(summary)}`, blocks } };
}

async function postToSlack(message) {
  const response = await fetch(settings.slackUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const answer = await response.text();
  if (!response.ok) throw new Error(`Slack answered ${response.status}: ${answer}`);
  return response.status;
}

async function runStatusChanged(event) {
  const { experimentName, runId, runStatus } = event.data || {};
  const match = WORKSPACE.exec(event.topic || "");
  if (!settings.notifyRunStatuses.includes(String(runStatus).toLowerCase())) {
    return [{ action: "notify", status: "skipped", detail: `status ${runStatus} is not in AML_NOTIFY_RUN_STATUSES` }];
  }
  if (!match || !experimentName || !runId) {
    return [{ action: "enrich", status: "skipped", detail: "the event names no workspace, experimentName and runId: nothing done" }];
  }
  const workspace = match[0];
  const request = `GET {discovered api}/history/v1.0${workspace}/experiments/${experimentName}/runs/${runId}`;
  const actions = [];
  let run = null;
  let problem = null;
  try {
    run = await getRun(workspace, experimentName, runId);
    actions.push({ action: "enrich", status: "done", detail: `run ${runId} is ${run.status}`, request });
  } catch (err) {
    problem = err.message;
    actions.push({ action: "enrich", status: "failed", detail: problem, request });
  }
  const { summary, body } = slackMessage(event, match, run, problem);
  const notice = { request: slackShown, target: "slack" };
  try {
    const status = await postToSlack(body);
    actions.push({ action: "notify", status: "done", detail: `${status} took it: ${summary}`, ...notice });
  } catch (err) {
    actions.push({ action: "notify", status: "failed", detail: err.message, ...notice });
  }
  return actions;
}

const app = express();
app.use(express.json({ limit: "4mb" }));

app.get("/", (req, res) => {
  res.json({ name: "aml-handlers-node-burst-peer", version: "1.0.0", functions: ["RunStatusChanged"] });
});

app.post("/RunStatusChanged", async (req, res) => {
  let events;
  try {
    events = await readEvents(req);
  } catch (err) {
    if (!(err instanceof BadInvocation)) throw err;
    console.error(`RunStatusChanged: bad invocation: ${err.message}`);
    return err.answer(res);
  }
  const logs = [];
  const outcomes = await Promise.all(
    events.map(async (event) => {
      const actions = event.eventType === RUN_STATUS_CHANGED ? await runStatusChanged(event) : [];
      for (const action of actions) logs.push(`RunStatusChanged ${event.id}: ${action.action} ${action.status}: ${action.detail}`);
      console.error(`event handled event_id=${event.id} event_type=${event.eventType} actions=${actions.map((a) => `${a.action}=${a.status}`).join(", ")}`);
      return { function: "RunStatusChanged", eventId: event.id, eventType: event.eventType, actions };
    })
  );
  answer(res, logs, outcomes);
});

const port = Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT || 3000);
app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
