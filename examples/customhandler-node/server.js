// An Azure Functions custom handler in Node.js with no dependencies: the same file runs under
// the Functions host and under `azbind start`. Each invocation is POST /<FunctionName> with
// {"Data": {...}, "Metadata": {...}}; the answer is {"Outputs": {...}, "Logs": [...]}.
'use strict';
const http = require('http');

const port = process.env.FUNCTIONS_CUSTOMHANDLER_PORT || 8080;

// The Functions host JSON-encodes strings once more inside Data and Metadata ("hello" arrives
// as "\"hello\"", 3 as "3"): decode a string whose content is itself a JSON string.
function text(v) {
  if (typeof v === 'string' && v.startsWith('"')) {
    try { return JSON.parse(v); } catch (e) { /* not JSON text */ }
  }
  return v;
}

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const functions = {
  HttpEnqueue(inv) {
    const req = inv.Data.req; // {Url, Method, Query, Headers, Params, Identities, Body}
    let order;
    try { order = JSON.parse(req.Body); } catch (e) { order = null; }
    if (!order || !order.id) {
      return [200, { Outputs: { res: { statusCode: 400, body: 'send {"id": "...", "item": "...", "qty": 1}' } } }];
    }
    return [200, {
      Outputs: {
        msg: req.Body,
        res: { statusCode: 202, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ queued: order.id }) },
      },
      Logs: ['queued order ' + order.id],
    }];
  },
  ProcessOrder(inv) {
    let order;
    try { order = JSON.parse(text(inv.Data.order)); } catch (e) {
      return [422, { error: 'not an order: ' + e.message }]; // non-2xx: the invocation fails
    }
    return [200, {
      Outputs: {
        receipt: {
          id: order.id, item: order.item, qty: order.qty,
          dequeueCount: text(inv.Metadata.DequeueCount),
          processedAt: new Date().toISOString(),
        },
      },
      Logs: ['processed order ' + order.id],
    }];
  },
  Tick(inv) {
    const timer = inv.Data.timer || {};
    return [200, { Logs: ['tick (past due: ' + Boolean(timer.IsPastDue) + ')'] }];
  },
};

http.createServer((req, res) => {
  const name = req.url.replace(/^\//, '').split('?')[0];
  if (req.method !== 'POST' || !functions[name]) {
    res.writeHead(404);
    res.end();
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    try {
      const [status, out] = functions[name](JSON.parse(body));
      reply(res, status, out);
    } catch (e) {
      reply(res, 500, { error: String(e) });
    }
  });
}).listen(port, '127.0.0.1', () => console.log('customhandler-node listening on 127.0.0.1:' + port));
