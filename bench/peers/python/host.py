"""The Functions host's side of the protocol, shared by both Python peers (server.py, burst.py):
an invocation read into Event Grid events with Azure's azure-eventgrid SDK, and the answer the
host expects."""

import json

from aiohttp import web
from azure.eventgrid import EventGridEvent


class BadInvocation(Exception):
    """An invocation that is not the host's shape; `binding` names its input when it had one."""

    def __init__(self, binding, cause):
        super().__init__(str(cause))
        self.binding = binding

    def answer(self):
        """The 400 the host is answered."""
        return web.json_response({"error": {"field": f"Data.{self.binding}", "message": str(self)}}, status=400)


def decode(value):
    """The host sends Data.<binding> as a JSON string holding a JSON string holding the event:
    parse while it is a string."""
    while isinstance(value, str):
        value = json.loads(value)
    return value


async def read_events(request):
    """The events of a host invocation; BadInvocation for anything malformed."""
    binding = None
    try:
        body = await request.json()
        data = body.get("Data") or {}
        binding = next(iter(data))
        decoded = decode(data[binding])
        return [EventGridEvent.from_dict(item) for item in (decoded if isinstance(decoded, list) else [decoded])]
    except Exception as err:  # noqa: BLE001 - any malformed invocation is a 400
        raise BadInvocation(binding, err) from err


def answer(logs, outcomes):
    """The host's answer: no outputs, the logs, and the outcome (a list for a batch)."""
    return_value = outcomes[0] if len(outcomes) == 1 else outcomes
    return web.json_response({"Outputs": {}, "Logs": logs, "ReturnValue": return_value})
