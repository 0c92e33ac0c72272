// The Functions host's side of the protocol, shared by both Node peers (server.js, burst.js): an
// invocation read into Event Grid events with Azure's @azure/eventgrid SDK, and the answer the
// host expects.
const { EventGridDeserializer } = require("@azure/eventgrid");

const deserializer = new EventGridDeserializer();

// An invocation that is not the host's shape; `binding` names its input when it had one.
class BadInvocation extends Error {
  constructor(binding, cause) {
    super(cause.message);
    this.binding = binding;
  }

  // The 400 the host is answered.
  answer(res) {
    return res.status(400).json({ error: { field: `Data.${this.binding}`, message: this.message } });
  }
}

// The host sends Data.<binding> as a JSON string holding a JSON string holding the event:
// parse while it is a string.
function decode(value) {
  while (typeof value === "string") value = JSON.parse(value);
  return value;
}

// The events of a host invocation (express.json() has parsed its body); BadInvocation for
// anything malformed.
async function readEvents(req) {
  const data = (req.body && req.body.Data) || {};
  const binding = Object.keys(data)[0];
  try {
    if (!binding) throw new Error("the invocation has no Data");
    return await deserializer.deserializeEventGridEvents(decode(data[binding]));
  } catch (err) {
    throw new BadInvocation(binding, err);
  }
}

// The host's answer: no outputs, the logs, and the outcome (a list for a batch).
function answer(res, logs, outcomes) {
  res.json({ Outputs: {}, Logs: logs, ReturnValue: outcomes.length === 1 ? outcomes[0] : outcomes });
}

module.exports = { BadInvocation, answer, readEvents };
