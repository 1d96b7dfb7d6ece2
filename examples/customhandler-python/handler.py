"""An Azure Functions custom handler in Python with the standard library only: the same file runs
under the Functions host and under `azbind start`. Each invocation is POST /<FunctionName> with
{"Data": {...}, "Metadata": {...}}; the answer is {"Outputs": {...}, "Logs": [...]}."""
import json
import os
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def text(v):
    """The Functions host JSON-encodes strings once more inside Data and Metadata ("hello"
    arrives as "\\"hello\\"", 3 as "3"): decode a string whose content is itself a JSON string."""
    if isinstance(v, str) and v.startswith('"'):
        try:
            return json.loads(v)
        except ValueError:
            pass
    return v


def http_enqueue(inv):
    req = inv["Data"]["req"]  # {Url, Method, Query, Headers, Params, Identities, Body}
    try:
        order = json.loads(req.get("Body") or "")
    except ValueError:
        order = None
    if not isinstance(order, dict) or not order.get("id"):
        return 200, {"Outputs": {"res": {"statusCode": 400, "body": 'send {"id": "...", "item": "...", "qty": 1}'}}}
    return 200, {
        "Outputs": {
            "msg": req["Body"],
            "res": {"statusCode": 202, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"queued": order["id"]}, separators=(",", ":"))},
        },
        "Logs": ["queued order " + order["id"]],
    }


def process_order(inv):
    try:
        order = json.loads(text(inv["Data"]["order"]))
    except ValueError as e:
        return 422, {"error": "not an order: %s" % e}  # non-2xx: the invocation fails
    return 200, {
        "Outputs": {"receipt": {
            "id": order["id"], "item": order["item"], "qty": order["qty"],
            "dequeueCount": text(inv["Metadata"].get("DequeueCount")),
            "processedAt": datetime.now(timezone.utc).isoformat(),
        }},
        "Logs": ["processed order " + order["id"]],
    }


def tick(inv):
    timer = inv["Data"].get("timer") or {}
    return 200, {"Logs": ["tick (past due: %s)" % str(bool(timer.get("IsPastDue"))).lower()]}


FUNCTIONS = {"HttpEnqueue": http_enqueue, "ProcessOrder": process_order, "Tick": tick}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        fn = FUNCTIONS.get(self.path.lstrip("/").split("?")[0])
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if fn is None:
            status, out = 404, {"error": "no such function"}
        else:
            try:
                status, out = fn(json.loads(body))
            except Exception as e:  # a bug in a function answers 500: the invocation fails
                status, out = 500, {"error": repr(e)}
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass  # one line per request is noise in the host log


if __name__ == "__main__":
    port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT", "8080"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("customhandler-python listening on 127.0.0.1:%d" % port)
    server.serve_forever()
