#!/usr/bin/env node
// azbind's Cosmos DB test launcher: @vercel/cosmosdb-server (the pinned package, loaded from the
// folder given with --server) behind a request handler that adds what the stock server lacks
// (see ../../README.md and internal/emulator/cosmos_launcher.go):
//
//   - a real incremental change feed: every document write is stamped with a global _lsn; a read
//     with `A-IM: Incremental feed` returns the documents of the requested partition-key range
//     (x-ms-documentdb-partitionkeyrangeid) and partition key (x-ms-documentdb-partitionkey) whose
//     _lsn is above If-None-Match (or, without it, modified at or after If-Modified-Since), in _lsn
//     order, at most x-ms-max-item-count of them; the etag is the LSN the read covers; 304 when
//     nothing is new; If-None-Match: * means "from now". Deletes are not reported ("latest version" mode).
//   - partition-key ranges with string ids, optionally several (--ranges N) so that a
//     change-feed processor has feed ranges to balance; a document belongs to the range of the
//     first byte of md5(JSON(partition key value)).
//   - a point read of a missing document answers 404 (the stock server fails with 500), and a
//     query scoped to a partition key sees only that partition (the stock server ignores it).
//   - HTTPS with the certificate and key given with --cert and --key (or plain HTTP with
//     --plain-http, for harnesses that cannot give their clients a CA).
//
// Usage: node launcher.js --server <dir of @vercel/cosmosdb-server> --port N [--host 127.0.0.1]
//        (--cert cert.pem --key key.pem | --plain-http) [--ranges N]
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const https = require("https");
const path = require("path");

function parseArgs(argv) {
  const args = { host: "127.0.0.1", ranges: 1 };
  for (let i = 0; i < argv.length; i += 1) {
    const k = argv[i];
    const v = argv[i + 1];
    switch (k) {
      case "--server": args.server = v; i += 1; break;
      case "--port": args.port = parseInt(v, 10); i += 1; break;
      case "--host": args.host = v; i += 1; break;
      case "--cert": args.cert = v; i += 1; break;
      case "--key": args.key = v; i += 1; break;
      case "--ranges": args.ranges = parseInt(v, 10); i += 1; break;
      case "--plain-http": args.plain = true; break;
      default:
        throw new Error(`unknown argument ${k}`);
    }
  }
  if (!args.server || (!args.plain && (!args.cert || !args.key)) || !(args.port >= 0)) {
    throw new Error("usage: launcher.js --server DIR --port N (--cert FILE --key FILE | --plain-http) [--host H] [--ranges N]");
  }
  if (!(args.ranges >= 1 && args.ranges <= 64)) {
    throw new Error("--ranges must be between 1 and 64");
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
// require() resolves a relative path against this script's folder, not the working directory:
// make --server absolute first, so that a relative path means what the shell user meant.
const serverDir = path.resolve(args.server);
const lib = name => require(path.join(serverDir, "lib", name));
const Account = lib("account").default;
const Documents = lib("account/documents").default;
const routes = lib("routes").default;
const readJSON = lib("json").default;
const readDocument = lib("handler/read-document").default;
const readDocuments = lib("handler/read-documents").default;
const queryDocuments = lib("handler/query-documents").default;
const readPKRanges = lib("handler/read-partition-key-ranges").default;
const { parsePartitionKey } = lib("utils/get-partition-from-header");

// ---- the global LSN -------------------------------------------------------------------------
// Every document write (create, replace, upsert, patch, batch) ends in Items._set with a fresh
// object; stamping it there covers them all.
let lsn = 0;
const originalSet = Documents.prototype._set;
Documents.prototype._set = function stampLSN(data) {
  lsn += 1;
  data._lsn = lsn; // eslint-disable-line no-param-reassign
  return originalSet.call(this, data);
};

// ---- partition-key ranges -------------------------------------------------------------------
const hex2 = n => n.toString(16).toUpperCase().padStart(2, "0");
const ranges = [];
for (let i = 0; i < args.ranges; i += 1) {
  const lo = Math.floor((256 * i) / args.ranges);
  const hi = Math.floor((256 * (i + 1)) / args.ranges);
  ranges.push({ id: String(i), lo, hi, minInclusive: i === 0 ? "" : hex2(lo), maxExclusive: i === args.ranges - 1 ? "FF" : hex2(hi) });
}

function pkValue(collection, doc) {
  const v = collection.documents._getPartition(doc);
  return JSON.stringify(v === undefined ? null : v);
}

function rangeOf(pkJSON) {
  const b = crypto.createHash("md5").update(pkJSON).digest()[0];
  return ranges.find(r => b >= r.lo && b < r.hi);
}

// The partition key a request names in x-ms-documentdb-partitionkey (a JSON array), as the JSON
// of its first component, or null when it names none.
function requestPK(req) {
  const h = req.headers["x-ms-documentdb-partitionkey"];
  if (!h || h === "[{}]" || h === "[]") return null;
  try {
    const v = JSON.parse(h);
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== null && typeof first === "object") return null;
    return JSON.stringify(first === undefined ? null : first);
  } catch (err) {
    return null;
  }
}

function pkRangesBody(collection) {
  const coll = collection.read();
  return {
    _rid: coll._rid,
    PartitionKeyRanges: ranges.map(r => ({
      id: r.id,
      _rid: `${coll._rid}-pkr${r.id}`,
      _self: `${coll._self}pkranges/${r.id}/`,
      _etag: `"pkr-${r.id}"`,
      minInclusive: r.minInclusive,
      maxExclusive: r.maxExclusive,
      ridPrefix: Number(r.id),
      throughputFraction: 1 / ranges.length,
      status: "online",
      parents: []
    })),
    _count: ranges.length
  };
}

// ---- the change feed ------------------------------------------------------------------------
function changeFeed(collection, req, res) {
  const coll = collection.read();
  let docs = [...collection.documents._data.values()].map(item => item.read());
  const rangeID = req.headers["x-ms-documentdb-partitionkeyrangeid"];
  if (rangeID !== undefined) {
    const r = ranges.find(x => x.id === String(rangeID));
    if (!r) {
      return [410, { code: "Gone", message: `partition key range ${rangeID} does not exist` }, { "x-ms-substatus": "1002" }];
    }
    docs = docs.filter(d => rangeOf(pkValue(collection, d)) === r);
  }
  const pk = requestPK(req);
  if (pk !== null) docs = docs.filter(d => pkValue(collection, d) === pk);
  const inm = req.headers["if-none-match"];
  if (inm === "*") {
    docs = []; // "from now": nothing yet, and the etag is the current position
  } else if (inm) {
    const after = parseInt(String(inm).replace(/"/g, ""), 10);
    if (Number.isNaN(after)) {
      return [400, { code: "BadRequest", message: `If-None-Match ${inm} is not a change-feed continuation` }, {}];
    }
    docs = docs.filter(d => d._lsn > after);
  } else if (req.headers["if-modified-since"]) {
    const since = Date.parse(req.headers["if-modified-since"]);
    if (!Number.isNaN(since)) docs = docs.filter(d => d._ts * 1000 >= since);
  }
  docs.sort((a, b) => a._lsn - b._lsn);
  let max = parseInt(req.headers["x-ms-max-item-count"] || "100", 10);
  if (!(max > 0)) max = Infinity;
  let etag = String(lsn);
  if (docs.length > max) {
    docs = docs.slice(0, max);
    etag = String(docs[docs.length - 1]._lsn);
  }
  const headers = { etag, "x-ms-item-count": String(docs.length) };
  if (docs.length === 0) return [304, null, headers];
  return [200, { _rid: coll._rid, Documents: docs, _count: docs.length }, headers];
}

// ---- a query scoped to one partition key ------------------------------------------------------
async function scopedQuery(collection, req, pk) {
  const body = await readJSON(req);
  if (!body || !body.query) return [400, { message: "missing query" }, {}];
  const docs = [...collection.documents._data.values()].map(item => item.read()).filter(d => pkValue(collection, d) === pk);
  const maxItemCount = req.headers["x-ms-max-item-count"] ? parseInt(req.headers["x-ms-max-item-count"], 10) : null;
  let continuation = null;
  if (req.headers["x-ms-continuation"]) {
    try { continuation = JSON.parse(req.headers["x-ms-continuation"]); } catch (err) { continuation = null; }
  }
  let result;
  try {
    result = collection.documents._getQuery(body.query).exec(docs, {
      parameters: body.parameters,
      udf: collection.documents._userDefinedFunctions(),
      maxItemCount,
      continuation,
      compositeIndexes: []
    });
  } catch (err) {
    return [400, { code: "BadRequest", message: err.message }, {}];
  }
  const headers = { "x-ms-item-count": String(result.result.length) };
  if (result.continuation) headers["x-ms-continuation"] = JSON.stringify(result.continuation);
  return [200, { _rid: collection.read()._rid, Documents: result.result, _count: result.result.length }, headers];
}

// ---- the request handler ----------------------------------------------------------------------
function send(req, res, status, body, headers) {
  res.statusCode = status;
  if (body && body._etag && !headers.etag) res.setHeader("etag", body._etag);
  for (const [k, v] of Object.entries(headers || {})) res.setHeader(k, v);
  res.setHeader("content-type", "application/json");
  res.setHeader("content-location", `${scheme}://${req.headers.host}${req.url}`);
  res.setHeader("x-ms-activity-id", crypto.randomUUID());
  res.setHeader("x-ms-request-charge", "1");
  res.setHeader("x-ms-session-token", `0:${lsn}`);
  if (status === 304 || status === 204) {
    res.end();
    return;
  }
  if (status > 399 && body && body.message === undefined) body.message = ""; // eslint-disable-line no-param-reassign
  res.end(body === undefined ? "" : JSON.stringify(body));
}

async function handle(account, req, res) {
  const route = routes(req);
  if (!route) return [400, { message: "no route" }, {}];
  const [params, handler] = route;
  const collection = params.collId ? account.database(params.dbId).collection(params.collId) : null;
  const notFound = () => [404, { code: "NotFound", message: "Entity with the specified id does not exist in the system." }, {}];

  if (handler === readPKRanges) {
    if (!collection.read()) return notFound();
    if (req.headers["a-im"] && req.headers["if-none-match"]) return [304, null, { etag: '"pkranges-1"' }];
    return [200, pkRangesBody(collection), { etag: '"pkranges-1"', "x-ms-item-count": String(ranges.length) }];
  }
  if (handler === readDocuments && req.headers["a-im"]) {
    if (!collection.read()) return notFound();
    return changeFeed(collection, req, res);
  }
  if (handler === readDocument) {
    if (!collection.read()) return notFound();
    let pk;
    try {
      pk = parsePartitionKey(req.headers["x-ms-documentdb-partitionkey"] || "[]", params.docId);
    } catch (err) {
      return [400, { code: "BadRequest", message: err.message }, {}];
    }
    if (!collection.document(params.docId, pk).read()) return notFound();
  }
  if (handler === queryDocuments && collection && collection.read()) {
    const pk = requestPK(req);
    if (pk !== null) return scopedQuery(collection, req, pk);
  }
  let body = await handler(account, req, res, params);
  if (body === undefined) body = null;
  return [res.statusCode, body, {}];
}

const scheme = args.plain ? "http" : "https";
const onRequest = (req, res) => {
    res.statusCode = 200;
    handle(server.account, req, res)
      .then(([status, body, headers]) => send(req, res, status, body, headers))
      .catch(err => {
        console.error(err); // eslint-disable-line no-console
        if (!res.headersSent) send(req, res, 500, { code: "InternalServerError", message: err.message }, {});
        else res.end();
      });
};
const server = args.plain
  ? http.createServer({ keepAlive: true }, onRequest)
  : https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key), keepAlive: true }, onRequest);
server.on("listening", () => {
  const { port } = server.address();
  server.account = new Account(args.host, port);
  if (args.plain) {
    // The account advertises its own endpoint; keep clients on plain HTTP.
    const meta = server.account.read();
    for (const loc of [...meta.writableLocations, ...meta.readableLocations]) {
      loc.databaseAccountEndpoint = `http://${args.host}:${port}/`;
    }
  }
  // eslint-disable-next-line no-console
  console.log(`cosmos-launcher ready at ${scheme}://${args.host}:${port}/ with ${ranges.length} partition-key range(s)`);
});
server.listen(args.port, args.host);
process.on("SIGTERM", () => process.exit(0));
