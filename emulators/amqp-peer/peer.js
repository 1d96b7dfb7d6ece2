#!/usr/bin/env node
// azbind amqp-peer: a local AMQP 1.0 test double for Azure Service Bus and Event Hubs, built on rhea.
//
// It implements the subset of both services that the unmodified Go SDKs (azservicebus v1.11.0,
// azeventhubs/v2 v2.0.2) use, so that tests can drive the real clients end to end on loopback.
// It is NOT a production broker: everything is in memory, single process, no TLS, no persistence,
// no filters/rules on subscriptions, no partitioned entities, no transactions, no quotas.
//
// Usage: node peer.js --config <file.json>   (internal/emulator.LaunchAMQPPeer writes the file)
// Config (JSON): {
//   "keyName": "RootManageSharedAccessKey", "key": "<SAS key>",      -- the key is never printed
//   "port": 0, "adminPort": 0,                                        -- 127.0.0.1 only; 0 = any
//   "queues": [{"name": "q", "lockDurationMs": 60000, "maxDeliveryCount": 10,
//               "requiresSession": false, "defaultMessageTimeToLive": 0}],
//   "topics": [{"name": "t", "subscriptions": [<same fields as a queue>]}],
//   "eventHubs": [{"name": "h", "partitions": 2, "consumerGroups": ["cg1"]}]   -- $Default always
// }
// On start it prints one line:
//   amqp-peer listening amqp=127.0.0.1:<port> admin=127.0.0.1:<port>
// Admin interface, HTTP/JSON on the admin port:
//   GET  /health                      {"ok":true}
//   POST /entities                    body: {"queues":[…],"topics":[…],"eventHubs":[…]} (adds)
//   GET  /entities                    every entity with its settings and counts
//   GET  /entity?entity=<path>        one entity
//   GET  /counts?entity=<path>        {active, locked, deferred, scheduled, deadLettered, total}
//   GET  /deadletters?entity=<path>   [{sequenceNumber, messageId, sessionId, reason, description,
//                                       deliveryCount, body}]
//   GET  /stats                       connections, open sockets, CBS tokens accepted/rejected, …
//   POST /faults                      {"action": "drop-connections" | "detach-links" | "stall" |
//                                       "unstall" | "refuse-links" (+"condition") | "accept-links"}
// Entity paths: "q", "t/Subscriptions/s", "q/$DeadLetterQueue" (case-insensitive).
// Set AMQP_PEER_DEBUG=1 for a log line per link, disposition and lock event.
'use strict';

const fs = require('fs');
const http = require('http');
const crypto = require('crypto');
const rhea = require('rhea');

const types = rhea.types;
const BATCH_FORMAT = 0x80013700;
const SESSION_FILTER = 'com.microsoft:session-filter';
const SESSION_FILTER_CODE = 0x137000000c;
const DEBUG = !!process.env.AMQP_PEER_DEBUG;

function log(...args) {
  console.log(new Date().toISOString(), ...args);
}
function debug(...args) {
  if (DEBUG) log(...args);
}

// ---------------------------------------------------------------------------------------------
// Raw message handling. rhea decodes a message into plain JS values, which loses AMQP types
// (an int64 application property would come back as uint32). The peer keeps the raw bytes of
// every section and re-encodes only the sections it changes.

// Keep the raw buffer of each decoded message (format 0 transfers).
const origDecode = rhea.message.decode;
rhea.message.decode = function (buf) {
  const m = origDecode(buf);
  Object.defineProperty(m, '__raw', { value: buf, enumerable: false });
  return m;
};

// parseMessage splits an encoded AMQP message into its sections.
function parseMessage(buf) {
  const reader = new types.Reader(buf);
  const p = { header: null, da: null, ma: null, props: null, ap: null, body: [], footer: null, decoded: null };
  while (reader.remaining()) {
    const start = reader.position;
    const s = reader.read();
    const raw = buf.slice(start, reader.position);
    const code = s.descriptor ? Number(s.descriptor.value) : -1;
    switch (code) {
      case 0x70: p.header = s; break;
      case 0x71: p.da = s; break;
      case 0x72: p.ma = s; break;
      case 0x73: p.props = raw; break;
      case 0x74: p.ap = s; break;
      case 0x75: case 0x76: case 0x77: p.body.push(raw); break;
      case 0x78: p.footer = raw; break;
      default: break;
    }
  }
  p.decoded = origDecode(buf);
  return p;
}

// mapItems returns the [key, value] Typed pairs of a map section (or []).
function mapItems(section) {
  if (!section || !Array.isArray(section.value)) return [];
  const out = [];
  for (let i = 0; i + 1 < section.value.length; i += 2) out.push([section.value[i], section.value[i + 1]]);
  return out;
}

// mergeMap builds a described map section from an existing one plus additions (a JS object of
// Typed or plain values; undefined deletes). keyWrap wraps the keys (symbol or string).
function mergeMap(section, code, additions, keyWrap) {
  const items = [];
  const add = additions || {};
  for (const [k, v] of mapItems(section)) {
    const key = String(types.unwrap(k));
    if (Object.prototype.hasOwnProperty.call(add, key)) continue;
    items.push(k, v);
  }
  for (const key of Object.keys(add)) {
    if (add[key] === undefined) continue;
    items.push(keyWrap(key), types.wrap(add[key]));
  }
  if (items.length === 0) return null;
  return types.described_nc(types.wrap_ulong(code), types.Map32(items));
}

// headerSection builds a header with the original durable/priority/ttl/first-acquirer and the given
// delivery count.
function headerSection(p, deliveryCount) {
  const h = p.decoded || {};
  if (!p.header && deliveryCount === undefined) return null;
  const items = [
    h.durable ? types.True() : types.False(),
    types.Ubyte(h.priority === undefined ? 4 : h.priority),
    h.ttl ? types.wrap_uint(h.ttl) : types.Null(),
    h.first_acquirer ? types.True() : types.False(),
    types.wrap_uint(deliveryCount || 0),
  ];
  return types.described_nc(types.wrap_ulong(0x70), types.List32(items));
}

// encodeMessage re-encodes a parsed message with changes:
// opts.deliveryCount, opts.da (delivery annotations to add), opts.ma (message annotations to
// add/replace), opts.ap (application properties to add/replace).
function encodeMessage(p, opts) {
  const o = opts || {};
  const parts = [];
  const write = (typed) => {
    if (!typed) return;
    const wr = new types.Writer();
    wr.write(typed);
    parts.push(wr.toBuffer());
  };
  write(headerSection(p, o.deliveryCount));
  write(o.da ? mergeMap(null, 0x71, o.da, types.wrap_symbol) : null);
  write(o.ma ? mergeMap(p.ma, 0x72, o.ma, types.wrap_symbol) : p.ma);
  if (p.props) parts.push(p.props);
  write(o.ap ? mergeMap(p.ap, 0x74, o.ap, types.wrap_string) : p.ap);
  for (const b of p.body) parts.push(b);
  if (p.footer) parts.push(p.footer);
  return Buffer.concat(parts);
}

// typedMap turns a Typed AMQP map into {key: Typed value}, keeping the values' AMQP types.
function typedMap(t) {
  if (!t || !Array.isArray(t.value)) return undefined;
  const out = {};
  for (let i = 0; i + 1 < t.value.length; i += 2) out[String(types.unwrap(t.value[i]))] = t.value[i + 1];
  return out;
}

// typedBodyField returns a field of a request's amqp-value map body with its AMQP type kept.
function typedBodyField(req, field) {
  const raw = req.__raw;
  if (!raw) return undefined;
  const p = parseMessage(raw);
  if (!p.body.length) return undefined;
  const v = new types.Reader(p.body[0]).read();
  const m = typedMap(v);
  return m ? m[field] : undefined;
}

function maValue(p, key) {
  const ma = p.decoded && p.decoded.message_annotations;
  return ma ? ma[key] : undefined;
}

// unpackIncoming returns the parsed messages of one transfer (several for the batch format).
function unpackIncoming(ctx) {
  if (ctx.format === BATCH_FORMAT) {
    const outer = origDecode(ctx.message);
    const body = outer.body;
    let bufs = [];
    if (body && body.typecode === 0x75) bufs = body.multiple ? body.content : [body.content];
    return { outer, messages: bufs.map((b) => parseMessage(Buffer.from(b))) };
  }
  const raw = ctx.message.__raw;
  const p = raw ? parseMessage(raw) : parseMessage(rhea.message.encode(ctx.message));
  return { outer: p.decoded, messages: [p] };
}

// .NET GUID byte order <-> RFC 4122 order (swap 0-3, 4-5, 6-7).
function swapGuid(b) {
  const t = Buffer.from(b);
  [t[0], t[3]] = [t[3], t[0]];
  [t[1], t[2]] = [t[2], t[1]];
  [t[4], t[5]] = [t[5], t[4]];
  [t[6], t[7]] = [t[7], t[6]];
  return t;
}

const long = (n) => types.wrap_long(n);
const ts = (ms) => types.wrap_timestamp(ms);
const DOTNET_EPOCH_TICKS = 621355968000000000n;
function dotnetTicks(ms) {
  const ticks = BigInt(ms) * 10000n + DOTNET_EPOCH_TICKS;
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(ticks);
  return types.Long(b);
}

// ---------------------------------------------------------------------------------------------
// Configuration and entities

function parseArgs(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--config') out.config = argv[++i];
  }
  return out;
}

const args = parseArgs(process.argv);
if (!args.config) {
  console.error('usage: node peer.js --config <file.json>');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(args.config, 'utf8'));
const KEY_NAME = config.keyName || 'RootManageSharedAccessKey';
const KEY = config.key || '';
if (!KEY) {
  console.error('amqp-peer: config has no key');
  process.exit(2);
}

const entities = new Map(); // lower-case path -> entity
const stats = { connections: 0, tokensAccepted: 0, tokensRejected: 0, linksRefused: 0 };
const faults = { refuseLinks: null, stalled: false };

function norm(path) {
  let s = String(path || '');
  const m = /^[a-z]+:\/\/[^/]+\/(.*)$/i.exec(s);
  if (m) s = m[1];
  return s.replace(/^\/+|\/+$/g, '').toLowerCase();
}

function durationMs(v, dflt) {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return v;
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/i.exec(v);
  if (m) return Math.round(((+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0)) * 1000);
  return dflt;
}

// creditLeft is the link credit not yet taken by deliveries the peer queued. rhea takes credit
// only when it writes a transfer (Outgoing.process, later in the tick), so link.sendable() stays
// true while link.send() queues: a loop on sendable() alone locked every available message on the
// first flow, beyond the credit. The service locks a message only when it transfers it within the
// link credit (a graceful stop then leaves nothing locked but what the client held). rhea keeps
// delivery_count + credit equal to the receiver's limit, so the deliveries not yet written are
// __queued - delivery_count.
function creditLeft(link) {
  const queued = link.__queued || 0;
  if (queued < link.delivery_count) link.__queued = link.delivery_count; // a drain advanced it
  return link.credit - Math.max(0, queued - link.delivery_count);
}

class SBStore {
  constructor(path, opts, dlqOf) {
    this.path = path;
    this.kind = dlqOf ? 'deadletter' : 'queue';
    this.lockDuration = durationMs(opts.lockDuration !== undefined ? opts.lockDuration : opts.lockDurationMs, 60000);
    this.maxDeliveryCount = opts.maxDeliveryCount || 10;
    this.requiresSession = !dlqOf && !!opts.requiresSession;
    this.defaultTtl = durationMs(opts.defaultMessageTimeToLive, 0);
    this.msgs = new Map(); // seq -> rec (insertion order == seq order)
    this.releases = 0; // deliveries released by a receiver, ever (for tests to poll)
    this.byToken = new Map(); // hex rfc token -> rec
    this.receivers = [];
    this.sessionLocks = new Map(); // sessionId -> {link, lockedUntil, timer}
    this.sessionState = new Map(); // sessionId -> Buffer
    this.sessionStateUpdated = new Map(); // sessionId -> ms of the last set-session-state
    this.rr = 0;
    this.dlq = dlqOf ? null : new SBStore(path + '/$deadletterqueue', { lockDuration: this.lockDuration }, this);
    this.seq = dlqOf ? dlqOf : null; // sequence counter holder: the DLQ shares its parent's
    this.nextSeq = 1;
  }

  allocSeq() {
    if (this.seq) return this.seq.allocSeq();
    return this.nextSeq++;
  }

  enqueue(p, now, seqIn) {
    const seq = seqIn === undefined ? this.allocSeq() : seqIn;
    const decoded = p.decoded || {};
    const rec = {
      seq, p, enq: now, deliveries: 0, state: 'active', token: null, lockedUntil: 0, timer: null, link: null,
      sessionId: decoded.group_id !== undefined && decoded.group_id !== null ? String(decoded.group_id) : null,
      messageId: decoded.message_id !== undefined ? String(decoded.message_id) : null,
      deferred: false, expiresAt: 0, skip: null,
    };
    if (!rec.p.props) {
      // The service always returns a properties section (the SDK reads the delivery count only then).
      const id = crypto.randomBytes(16).toString('hex');
      const w = new types.Writer();
      w.write(types.described_nc(types.wrap_ulong(0x73), types.List32([types.wrap_string(id)])));
      rec.p = Object.assign({}, rec.p, { props: w.toBuffer() });
      rec.messageId = id;
    }
    const ttl = decoded.ttl || this.defaultTtl;
    if (ttl) rec.expiresAt = now + ttl;
    const sched = maValue(p, 'x-opt-scheduled-enqueue-time');
    if (sched instanceof Date && sched.getTime() > now) {
      rec.state = 'scheduled';
      rec.timer = setTimeout(() => this.activate(rec), sched.getTime() - now);
    }
    this.msgs.set(seq, rec);
    return rec;
  }

  activate(rec) {
    if (rec.state !== 'scheduled' || !this.msgs.has(rec.seq)) return;
    rec.timer = null;
    rec.state = 'active';
    this.pump();
  }

  remove(rec) {
    this.unlock(rec);
    if (rec.timer) clearTimeout(rec.timer);
    rec.timer = null;
    this.msgs.delete(rec.seq);
  }

  unlock(rec) {
    if (rec.token) this.byToken.delete(rec.token);
    if (rec.timer && rec.state === 'locked') {
      clearTimeout(rec.timer);
      rec.timer = null;
    }
    rec.token = null;
    rec.link = null;
    rec.lockedUntil = 0;
  }

  purgeExpired(now) {
    for (const rec of this.msgs.values()) {
      if (rec.expiresAt && rec.expiresAt <= now && rec.state !== 'locked') this.remove(rec);
    }
  }

  lock(rec, link, now) {
    rec.state = 'locked';
    rec.token = crypto.randomBytes(16).toString('hex');
    rec.link = link;
    const sessionLock = rec.sessionId !== null ? this.sessionLocks.get(rec.sessionId) : null;
    rec.lockedUntil = sessionLock && sessionLock.link === link ? sessionLock.lockedUntil : now + this.lockDuration;
    this.byToken.set(rec.token, rec);
    if (!(sessionLock && sessionLock.link === link)) {
      rec.timer = setTimeout(() => this.lockExpired(rec, rec.token), Math.max(0, rec.lockedUntil - now));
    }
  }

  lockExpired(rec, token) {
    if (rec.token !== token || rec.state !== 'locked') return;
    rec.timer = null;
    debug('lock expired', this.path, rec.seq);
    this.returnToQueue(rec, true);
  }

  // returnToQueue unlocks a locked message; counted=false undoes the delivery count (release).
  returnToQueue(rec, counted, modifyAp) {
    this.unlock(rec);
    if (!counted) rec.deliveries = Math.max(0, rec.deliveries - 1);
    if (modifyAp && Object.keys(modifyAp).length) rec.p = parseMessage(encodeMessage(rec.p, { ap: modifyAp }));
    if (rec.deferred) {
      rec.state = 'deferred';
    } else if (counted && rec.deliveries >= this.maxDeliveryCount && this.dlq) {
      this.deadLetter(rec, 'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${this.maxDeliveryCount} delivery attempts.`);
      return;
    } else {
      rec.state = 'active';
    }
    setImmediate(() => this.pump());
  }

  deadLetter(rec, reason, description, modifyAp) {
    this.remove(rec);
    if (!this.dlq) return;
    const ap = Object.assign({}, modifyAp || {});
    if (reason !== undefined && reason !== null) ap.DeadLetterReason = String(reason);
    if (description !== undefined && description !== null) ap.DeadLetterErrorDescription = String(description);
    const p = parseMessage(encodeMessage(rec.p, {
      ap: Object.keys(ap).length ? ap : undefined,
      ma: { 'x-opt-deadletter-source': this.path },
    }));
    const d = this.dlq;
    const nrec = {
      seq: rec.seq, p, enq: Date.now(), deliveries: rec.deliveries, state: 'active', token: null, lockedUntil: 0,
      timer: null, link: null, sessionId: rec.sessionId, messageId: rec.messageId, deferred: false, expiresAt: 0,
      skip: null, reason: reason === undefined ? null : reason, description: description === undefined ? null : description,
    };
    d.msgs.set(nrec.seq, nrec);
    log('dead-lettered', this.path, 'seq', rec.seq, 'reason', reason);
    setImmediate(() => d.pump());
  }

  defer(rec) {
    this.unlock(rec);
    rec.deferred = true;
    rec.state = 'deferred';
  }

  // encodeForDelivery builds the bytes sent to a receiver (or returned by peek/receive-deferred).
  encodeFor(rec, extra) {
    const ma = {
      'x-opt-sequence-number': long(rec.seq),
      'x-opt-enqueued-time': ts(rec.enq),
    };
    if (rec.lockedUntil) ma['x-opt-locked-until'] = ts(rec.lockedUntil);
    if (rec.state === 'deferred' || rec.deferred) ma['x-opt-message-state'] = long(1);
    else if (rec.state === 'scheduled') ma['x-opt-message-state'] = long(2);
    const o = { ma, deliveryCount: Math.max(0, rec.deliveries - 1) };
    if (extra && extra.peek) o.deliveryCount = rec.deliveries;
    if (extra && extra.da) o.da = extra.da;
    return encodeMessage(rec.p, o);
  }

  nextFor(link, now) {
    for (const rec of this.msgs.values()) {
      if (rec.state !== 'active') continue;
      if (rec.expiresAt && rec.expiresAt <= now) {
        this.remove(rec);
        continue;
      }
      if (link.__sessionId !== undefined) {
        if (rec.sessionId !== link.__sessionId) continue;
      } else if (rec.sessionId !== null && this.requiresSession) {
        continue;
      }
      return rec;
    }
    return null;
  }

  pump() {
    const now = Date.now();
    const n = this.receivers.length;
    if (!n || faults.stalled) return;
    for (let i = 0; i < n; i++) {
      const link = this.receivers[(this.rr + i) % n];
      while (link.is_open() && link.sendable() && creditLeft(link) > 0) {
        const rec = this.nextFor(link, now);
        if (!rec) break;
        this.deliver(rec, link, now);
      }
    }
    this.rr = (this.rr + 1) % Math.max(1, n);
  }

  deliver(rec, link, now) {
    rec.deliveries++;
    link.__queued = (link.__queued || 0) + 1;
    if (link.local.attach.snd_settle_mode === 1) {
      // receive-and-delete
      this.remove(rec);
      const bytes = this.encodeFor(rec);
      link.send(bytes, crypto.randomBytes(16), 0);
      return;
    }
    this.lock(rec, link, now);
    const bytes = this.encodeFor(rec);
    const d = link.send(bytes, swapGuid(Buffer.from(rec.token, 'hex')), 0);
    d.__rec = rec;
    d.__token = rec.token;
  }

  counts() {
    const now = Date.now();
    this.purgeExpired(now);
    const c = { active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 0, total: 0, releases: this.releases };
    for (const rec of this.msgs.values()) {
      c.total++;
      if (rec.state === 'active') c.active++;
      else if (rec.state === 'locked') { c.locked++; if (!rec.deferred) c.active++; else c.deferred++; }
      else if (rec.state === 'deferred') c.deferred++;
      else if (rec.state === 'scheduled') c.scheduled++;
      else if (rec.state === 'released') c.active++;
    }
    if (this.dlq) c.deadLettered = this.dlq.msgs.size;
    return c;
  }
}

function createQueue(q) {
  const path = norm(q.name);
  if (!path) throw new Error('queue without name');
  if (entities.has(path)) return entities.get(path);
  const s = new SBStore(path, q, null);
  s.displayName = q.name;
  entities.set(path, s);
  entities.set(s.dlq.path, s.dlq);
  return s;
}

function createTopic(t) {
  const path = norm(t.name);
  if (!path) throw new Error('topic without name');
  let topic = entities.get(path);
  if (!topic) {
    topic = { kind: 'topic', path, subscriptions: new Map(), nextSeq: 1 };
    // The topic numbers messages; every subscription's copy has the same sequence number.
    topic.allocSeq = () => topic.nextSeq++;
    entities.set(path, topic);
  }
  if (topic.kind !== 'topic') throw new Error(`entity ${t.name} exists and is not a topic`);
  for (const sub of t.subscriptions || []) {
    const spath = path + '/subscriptions/' + norm(sub.name);
    if (topic.subscriptions.has(spath)) continue;
    const s = new SBStore(spath, sub, null);
    s.seq = topic;
    topic.subscriptions.set(spath, s);
    entities.set(spath, s);
    entities.set(s.dlq.path, s.dlq);
  }
  return topic;
}

class EventHub {
  constructor(h) {
    this.kind = 'eventhub';
    this.name = h.name;
    this.path = norm(h.name);
    const n = h.partitions || h.partitionCount || 2;
    this.partitions = [];
    for (let i = 0; i < n; i++) this.partitions.push({ id: String(i), events: [], nextOffset: 0, receivers: new Map() });
    this.consumerGroups = new Set(['$default']);
    for (const cg of h.consumerGroups || []) this.consumerGroups.add(String(cg).toLowerCase());
    this.createdAt = Date.now();
    this.rr = 0;
  }

  partitionFor(key) {
    if (key === undefined || key === null) {
      const p = this.partitions[this.rr % this.partitions.length];
      this.rr++;
      return p;
    }
    const h = crypto.createHash('sha256').update(String(key)).digest();
    return this.partitions[h.readUInt32BE(0) % this.partitions.length];
  }

  append(part, p, now) {
    const seq = part.events.length;
    const offset = part.nextOffset;
    const size = p.body.reduce((a, b) => a + b.length, 0) + 64;
    part.nextOffset += size;
    const pk = maValue(p, 'x-opt-partition-key');
    part.events.push({ seq, offset, enq: now, pk: pk === undefined || pk === null ? null : String(pk), p });
  }

  encodeEvent(ev) {
    const ma = {
      'x-opt-sequence-number': long(ev.seq),
      'x-opt-offset': String(ev.offset),
      'x-opt-enqueued-time': ts(ev.enq),
    };
    if (ev.pk !== null) ma['x-opt-partition-key'] = ev.pk;
    return encodeMessage(ev.p, { ma });
  }

  pump(part) {
    if (faults.stalled) return;
    for (const set of part.receivers.values()) {
      for (const link of set) {
        while (link.is_open() && link.sendable() && link.__next < part.events.length) {
          const ev = part.events[link.__next++];
          link.send(this.encodeEvent(ev), undefined, 0);
        }
      }
    }
  }
}

function createEventHub(h) {
  const path = norm(h.name);
  if (!path) throw new Error('event hub without name');
  if (entities.has(path)) {
    const e = entities.get(path);
    for (const cg of h.consumerGroups || []) e.consumerGroups.add(String(cg).toLowerCase());
    return e;
  }
  const e = new EventHub(h);
  entities.set(path, e);
  return e;
}

function applyConfig(c) {
  for (const q of c.queues || []) createQueue(q);
  for (const t of c.topics || []) createTopic(t);
  for (const h of c.eventHubs || []) createEventHub(h);
}
applyConfig(config);

// ---------------------------------------------------------------------------------------------
// CBS

function checkToken(token) {
  if (typeof token !== 'string' || !token.startsWith('SharedAccessSignature ')) {
    return [401, 'InvalidToken: the token is not a SharedAccessSignature.'];
  }
  const fields = {};
  for (const kv of token.slice('SharedAccessSignature '.length).split('&')) {
    const i = kv.indexOf('=');
    if (i > 0) fields[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (!fields.sr || !fields.sig || !fields.se || !fields.skn) {
    return [401, 'InvalidToken: the SharedAccessSignature is missing sr, sig, se or skn.'];
  }
  if (fields.skn !== KEY_NAME) {
    return [401, `InvalidSignature: the key name in the token is not authorized.`];
  }
  const expected = crypto.createHmac('sha256', KEY).update(fields.sr + '\n' + fields.se).digest('base64');
  let sig;
  try {
    sig = decodeURIComponent(fields.sig);
  } catch (e) {
    sig = fields.sig;
  }
  const a = Buffer.from(sig);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
    return [401, 'InvalidSignature: The token has an invalid signature.'];
  }
  if (Number(fields.se) * 1000 < Date.now()) {
    return [401, 'ExpiredToken: The token is expired.'];
  }
  return [202, 'Accepted'];
}

// audienceExists reports whether a CBS audience (amqp://host/<path>, sb://host/<path>) names the
// namespace or an entity the peer has.
function audienceExists(audience) {
  let a = norm(audience);
  if (/^[a-z]+:\/\/[^/]*$/i.test(String(audience || '').replace(/\/+$/, ''))) return true;
  if (a.endsWith('/$management')) a = a.slice(0, -'/$management'.length);
  if (a === '' || a === '$management' || a === '$cbs') return true;
  if (entities.has(a)) return true;
  const cg = /^(.+)\/consumergroups\/([^/]+)(?:\/partitions\/[^/]+)?$/.exec(a);
  if (cg) {
    const hub = entities.get(cg[1]);
    return !!hub && hub.kind === 'eventhub' && hub.consumerGroups.has(cg[2]);
  }
  const part = /^(.+)\/partitions\/[^/]+$/.exec(a);
  if (part) {
    const hub = entities.get(part[1]);
    return !!hub && hub.kind === 'eventhub';
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// RPC replies

function reply(ctx, req, code, description, body) {
  const conn = ctx.connection;
  const replyTo = req.reply_to;
  let target = null;
  for (const link of conn.__senders || []) {
    const t = link.remote.attach && link.remote.attach.target;
    if (t && t.address === replyTo && link.is_open()) {
      target = link;
      break;
    }
  }
  if (!target) {
    log('rpc reply: no link for reply_to');
    return;
  }
  const msg = {
    correlation_id: req.message_id,
    application_properties: {
      'status-code': types.wrap_int(code),
      'status-description': description || '',
    },
  };
  if (body !== undefined) msg.body = body;
  target.send(msg);
}

function tokensOf(list) {
  return (list || []).map((t) => Buffer.from(t).toString('hex'));
}

function lockLost(ctx, req) {
  reply(ctx, req, 410, 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. com.microsoft:message-lock-lost');
}

function sbManagement(ctx, store, req) {
  const ap = req.application_properties || {};
  const op = ap.operation;
  const v = req.body && typeof req.body === 'object' ? req.body : {};
  const now = Date.now();
  switch (op) {
    case 'com.microsoft:renew-lock': {
      const recs = [];
      for (const tok of tokensOf(v['lock-tokens'])) {
        const rec = store.byToken.get(tok);
        if (!rec || rec.state !== 'locked') return lockLost(ctx, req);
        recs.push(rec);
      }
      const out = [];
      for (const rec of recs) {
        if (rec.timer) clearTimeout(rec.timer);
        rec.lockedUntil = now + store.lockDuration;
        const tok = rec.token;
        rec.timer = setTimeout(() => store.lockExpired(rec, tok), store.lockDuration);
        out.push(new Date(rec.lockedUntil));
      }
      return reply(ctx, req, 200, 'OK', { expirations: types.wrap_array(out, 0x83) });
    }
    case 'com.microsoft:update-disposition': {
      const status = v['disposition-status'];
      const recs = [];
      for (const tok of tokensOf(v['lock-tokens'])) {
        const rec = store.byToken.get(tok);
        if (!rec || rec.state !== 'locked') return lockLost(ctx, req);
        recs.push(rec);
      }
      const modify = typedMap(typedBodyField(req, 'properties-to-modify'));
      for (const rec of recs) {
        if (status === 'completed') store.remove(rec);
        else if (status === 'abandoned') store.returnToQueue(rec, true, modify);
        else if (status === 'suspended') store.deadLetter(rec, v['deadletter-reason'], v['deadletter-description'], modify);
        else if (status === 'defered' || status === 'deferred') store.defer(rec);
        else return reply(ctx, req, 400, `unknown disposition-status ${status}`);
      }
      return reply(ctx, req, 200, 'OK');
    }
    case 'com.microsoft:receive-by-sequence-number': {
      const seqs = (v['sequence-numbers'] || []).map(Number);
      const peekLock = Number(v['receiver-settle-mode'] || 0) === 1;
      const out = [];
      for (const s of seqs) {
        const rec = store.msgs.get(s);
        if (!rec || !rec.deferred || rec.state === 'locked') {
          return reply(ctx, req, 404, `Failed to lock one or more specified messages. The message with sequence number ${s} was not found. com.microsoft:message-not-found`);
        }
        rec.deliveries++;
        if (peekLock) {
          store.lock(rec, null, now);
          const tok = types.wrap_uuid(Buffer.from(rec.token, 'hex'));
          out.push({ message: store.encodeFor(rec, { da: { 'x-opt-lock-token': tok } }), 'lock-token': tok });
        } else {
          store.remove(rec);
          out.push({ message: store.encodeFor(rec) });
        }
      }
      if (!out.length) return reply(ctx, req, 204, 'No messages');
      return reply(ctx, req, 200, 'OK', { messages: out });
    }
    case 'com.microsoft:peek-message': {
      const from = Number(v['from-sequence-number'] || 0);
      const count = Number(v['message-count'] || 1);
      const sid = v['session-id'];
      store.purgeExpired(now);
      const out = [];
      for (const rec of store.msgs.values()) {
        if (out.length >= count) break;
        if (rec.seq < from) continue;
        if (sid !== undefined && sid !== null && rec.sessionId !== String(sid)) continue;
        out.push({ message: store.encodeFor(rec, { peek: true }) });
      }
      if (!out.length) return reply(ctx, req, 204, 'No messages');
      return reply(ctx, req, 200, 'OK', { messages: out });
    }
    case 'com.microsoft:schedule-message':
    case 'com.microsoft:cancel-scheduled-message':
      return scheduleOps(ctx, store.path, req, v, now);
    case 'com.microsoft:renew-session-lock': {
      const sid = String(v['session-id']);
      const sl = store.sessionLocks.get(sid);
      if (!sl) return reply(ctx, req, 410, 'The session lock has expired. com.microsoft:session-lock-lost');
      renewSessionLock(store, sid, sl, now);
      return reply(ctx, req, 200, 'OK', { expiration: new Date(sl.lockedUntil) });
    }
    case 'com.microsoft:get-session-state': {
      const sid = String(v['session-id']);
      if (!store.sessionLocks.has(sid)) return reply(ctx, req, 410, 'The session lock has expired. com.microsoft:session-lock-lost');
      const st = store.sessionState.get(sid);
      return reply(ctx, req, 200, 'OK', { 'session-state': st === undefined ? null : st });
    }
    case 'com.microsoft:set-session-state': {
      const sid = String(v['session-id']);
      if (!store.sessionLocks.has(sid)) return reply(ctx, req, 410, 'The session lock has expired. com.microsoft:session-lock-lost');
      const st = v['session-state'];
      if (st === undefined || st === null) store.sessionState.delete(sid);
      else store.sessionState.set(sid, Buffer.from(st));
      store.sessionStateUpdated.set(sid, now);
      return reply(ctx, req, 200, 'OK');
    }
    case 'com.microsoft:get-message-sessions': {
      const skip = Number(v.skip || 0);
      const top = Number(v.top || 100);
      const since = v['last-updated-time'] instanceof Date ? v['last-updated-time'].getTime() : Infinity;
      const ids = [];
      const seen = new Set();
      const addId = (id) => {
        if (!seen.has(id)) {
          seen.add(id);
          ids.push(id);
        }
      };
      if (since >= 253402300800000 || !Number.isFinite(since)) {
        // default mode: sessions with messages, and sessions with state
        for (const rec of store.msgs.values()) if (rec.sessionId !== null) addId(rec.sessionId);
        for (const k of store.sessionState.keys()) addId(k);
      } else {
        for (const [k, t] of store.sessionStateUpdated) if (t > since) addId(k);
      }
      const page = ids.slice(skip, skip + top);
      if (!page.length) return reply(ctx, req, 204, 'No sessions');
      return reply(ctx, req, 200, 'OK', { skip: types.wrap_int(skip + page.length), 'sessions-ids': types.wrap_array(page, 0xa1) });
    }
    default:
      return reply(ctx, req, 500, `operation ${op} is not implemented by amqp-peer`);
  }
}

// scheduleOps implements schedule-message and cancel-scheduled-message for a queue or topic path.
function scheduleOps(ctx, path, req, v, now) {
  const op = (req.application_properties || {}).operation;
  if (op === 'com.microsoft:schedule-message') {
    const seqs = [];
    for (const m of v.messages || []) {
      const p = parseMessage(Buffer.from(m.message));
      seqs.push(enqueueTo(path, [p], now)[0]);
    }
    return reply(ctx, req, 200, 'OK', { 'sequence-numbers': types.wrap_array(seqs, 0x81) });
  }
  for (const seq of (v['sequence-numbers'] || []).map(Number)) {
    for (const st of storesFor(path)) {
      const rec = st.msgs.get(seq);
      if (rec && rec.state === 'scheduled') st.remove(rec);
    }
  }
  return reply(ctx, req, 200, 'OK');
}

function topicManagement(ctx, topic, req) {
  const op = (req.application_properties || {}).operation;
  const v = req.body && typeof req.body === 'object' ? req.body : {};
  if (op === 'com.microsoft:schedule-message' || op === 'com.microsoft:cancel-scheduled-message') {
    return scheduleOps(ctx, topic.path, req, v, Date.now());
  }
  return reply(ctx, req, 500, `operation ${op} on a topic is not implemented by amqp-peer`);
}

function ehManagement(ctx, req) {
  const ap = req.application_properties || {};
  if (ap.operation !== 'READ') return reply(ctx, req, 500, `operation ${ap.operation} is not implemented by amqp-peer`);
  const hub = entities.get(norm(ap.name));
  if (!hub || hub.kind !== 'eventhub') {
    return reply(ctx, req, 404, `The messaging entity '${ap.name}' could not be found. com.microsoft:entity-not-found`);
  }
  if (ap.type === 'com.microsoft:eventhub') {
    return reply(ctx, req, 200, 'OK', {
      name: hub.name,
      created_at: new Date(hub.createdAt),
      partition_ids: types.wrap_array(hub.partitions.map((p) => p.id), 0xa1),
      georeplication_factor: types.wrap_int(1),
    });
  }
  if (ap.type === 'com.microsoft:partition') {
    const part = hub.partitions.find((p) => p.id === String(ap.partition));
    if (!part) return reply(ctx, req, 404, `partition ${ap.partition} not found. com.microsoft:entity-not-found`);
    const last = part.events[part.events.length - 1];
    return reply(ctx, req, 200, 'OK', {
      name: hub.name,
      partition: part.id,
      begin_sequence_number: long(part.events.length ? 0 : -1),
      last_enqueued_sequence_number: long(last ? last.seq : -1),
      last_enqueued_offset: last ? String(last.offset) : '-1',
      last_enqueued_time_utc: new Date(last ? last.enq : 0),
      is_partition_empty: !last,
    });
  }
  return reply(ctx, req, 400, `unknown READ type ${ap.type}`);
}

// ---------------------------------------------------------------------------------------------
// Sending into entities

// storesFor returns the Service Bus stores a message sent to path lands in.
function storesFor(path) {
  const e = entities.get(norm(path));
  if (!e) return [];
  if (e.kind === 'topic') return [...e.subscriptions.values()];
  if (e instanceof SBStore && e.kind === 'queue') return [e];
  return [];
}

function enqueueTo(path, messages, now) {
  const stores = storesFor(path);
  const e = entities.get(norm(path));
  const seqs = [];
  for (const p of messages) {
    if (!stores.length) {
      seqs.push(-1);
      continue;
    }
    const seq = e && e.kind === 'topic' ? e.allocSeq() : stores[0].allocSeq();
    for (const st of stores) st.enqueue(p, now, seq);
    seqs.push(seq);
  }
  for (const st of stores) setImmediate(() => st.pump());
  return seqs;
}

// resolveTarget maps the address of a client sender link to what the peer does with its messages.
function resolveTarget(address) {
  const a = norm(address);
  if (a === '$cbs') return { kind: 'cbs' };
  if (a === '$management') return { kind: 'ehmgmt' };
  if (a.endsWith('/$management')) {
    const base = a.slice(0, -'/$management'.length);
    const e = entities.get(base);
    if (e instanceof SBStore) return { kind: 'sbmgmt', store: e };
    if (e && e.kind === 'eventhub') return { kind: 'ehmgmt' };
    if (e && e.kind === 'topic') return { kind: 'sbmgmt', store: null, topic: e };
    return null;
  }
  const m = /^(.+)\/partitions\/([^/]+)$/.exec(a);
  if (m) {
    const hub = entities.get(m[1]);
    if (hub && hub.kind === 'eventhub') {
      const part = hub.partitions.find((p) => p.id === m[2]);
      if (part) return { kind: 'ehsend', hub, part };
    }
    return null;
  }
  const e = entities.get(a);
  if (!e) return null;
  if (e.kind === 'eventhub') return { kind: 'ehsend', hub: e, part: null };
  if (e.kind === 'topic' || (e instanceof SBStore && e.kind === 'queue')) return { kind: 'sbsend', path: a };
  return null;
}

// resolveSource maps the address of a client receiver link.
function resolveSource(address) {
  const a = norm(address);
  if (a === '$cbs' || a === '$management' || a.endsWith('/$management')) return { kind: 'rpc' };
  const m = /^(.+)\/consumergroups\/([^/]+)\/partitions\/([^/]+)$/.exec(a);
  if (m) {
    const hub = entities.get(m[1]);
    if (!hub || hub.kind !== 'eventhub') return null;
    if (!hub.consumerGroups.has(m[2])) return { kind: 'error', condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found (consumer group ${m[2]}).` };
    const part = hub.partitions.find((p) => p.id === m[3]);
    if (!part) return null;
    return { kind: 'ehrecv', hub, part, cg: m[2] };
  }
  const e = entities.get(a);
  if (e instanceof SBStore) return { kind: 'sbrecv', store: e };
  return null;
}

// ---------------------------------------------------------------------------------------------
// Links

function refuse(link, condition, description) {
  stats.linksRefused++;
  debug('refusing link', link.name, condition, description);
  link.close({ condition, description });
}

function echoTerminus(link) {
  const ra = link.remote.attach || {};
  link.local.attach.snd_settle_mode = ra.snd_settle_mode;
  link.local.attach.rcv_settle_mode = ra.rcv_settle_mode;
  if (ra.source) link.set_source({ address: ra.source.address });
  if (ra.target) link.set_target({ address: ra.target.address });
}

function track(conn, kind, link) {
  if (!conn[kind]) conn[kind] = new Set();
  conn[kind].add(link);
}

function linkProps(link) {
  const ra = link.remote.attach || {};
  return ra.properties || {};
}

function parseSelector(filter) {
  if (!filter) return null;
  let expr = null;
  for (const k of Object.keys(filter)) {
    if (k.includes('selector-filter')) expr = filter[k];
  }
  if (expr && typeof expr === 'object' && expr.value !== undefined) expr = expr.value;
  if (typeof expr !== 'string') return null;
  const m = /^amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time) (>=?) '(.*)'$/.exec(expr);
  if (!m) return { error: `unsupported selector ${expr}` };
  return { field: m[1], inclusive: m[2] === '>=', value: m[3] };
}

function startIndex(part, sel) {
  if (!sel) return part.events.length;
  const evs = part.events;
  if (sel.field === 'offset') {
    if (sel.value === '-1') return 0;
    if (sel.value === '@latest') return evs.length;
    const off = Number(sel.value);
    const i = evs.findIndex((e) => (sel.inclusive ? e.offset >= off : e.offset > off));
    return i < 0 ? evs.length : i;
  }
  if (sel.field === 'sequence-number') {
    const s = Number(sel.value);
    const i = evs.findIndex((e) => (sel.inclusive ? e.seq >= s : e.seq > s));
    return i < 0 ? evs.length : i;
  }
  const t = Number(sel.value);
  const i = evs.findIndex((e) => (sel.inclusive ? e.enq >= t : e.enq > t));
  return i < 0 ? evs.length : i;
}

function epochOf(link) {
  const v = linkProps(link)['com.microsoft:epoch'];
  if (v === undefined || v === null) return null;
  return Number(v);
}

function openEhReceiver(link, r) {
  const sel = parseSelector((link.remote.attach.source || {}).filter);
  if (sel && sel.error) return refuse(link, 'amqp:not-implemented', sel.error);
  const key = r.cg;
  if (!r.part.receivers.has(key)) r.part.receivers.set(key, new Set());
  const set = r.part.receivers.get(key);
  const epoch = epochOf(link);
  for (const other of [...set]) {
    const oe = other.__epoch;
    if (epoch !== null && (oe === null || epoch >= oe)) {
      set.delete(other);
      other.close({
        condition: 'amqp:link:stolen',
        description: `New receiver with higher epoch of '${epoch}' is created hence current receiver with epoch '${oe === null ? '' : oe}' is getting disconnected.`,
      });
    } else if (oe !== null && (epoch === null || epoch < oe)) {
      // Attach, then detach at once, so that the client sees a stolen link (ownership lost).
      echoTerminus(link);
      return refuse(link, 'amqp:link:stolen', `Receiver with epoch '${epoch === null ? '' : epoch}' cannot be created because a receiver with higher epoch '${oe}' already exists.`);
    }
  }
  link.__epoch = epoch;
  link.__next = startIndex(r.part, sel);
  link.__eh = r;
  link.local.attach.snd_settle_mode = 1;
  link.local.attach.rcv_settle_mode = 0;
  const ra = link.remote.attach;
  link.set_source({ address: ra.source.address, filter: ra.source.filter });
  link.set_target({ address: ra.target && ra.target.address });
  const props = {};
  if (epoch !== null) props['com.microsoft:epoch'] = long(epoch);
  link.local.attach.properties = props;
  set.add(link);
  setImmediate(() => r.hub.pump(r.part));
}

function renewSessionLock(store, sid, sl, now) {
  if (sl.timer) clearTimeout(sl.timer);
  sl.lockedUntil = now + store.lockDuration;
  sl.timer = setTimeout(() => {
    const cur = store.sessionLocks.get(sid);
    if (cur !== sl) return;
    debug('session lock expired', store.path, sid);
    releaseSession(store, sl.link);
    sl.link.close({ condition: 'com.microsoft:session-lock-lost', description: `The session lock has expired on the MessageSession. Session: ${sid}` });
  }, store.lockDuration);
  for (const rec of store.msgs.values()) {
    if (rec.state === 'locked' && rec.link === sl.link) rec.lockedUntil = sl.lockedUntil;
  }
}

function releaseSession(store, link) {
  const sid = link.__sessionId;
  if (sid === undefined) return;
  const sl = store.sessionLocks.get(sid);
  if (sl && sl.link === link) {
    if (sl.timer) clearTimeout(sl.timer);
    store.sessionLocks.delete(sid);
  }
  for (const rec of [...store.msgs.values()]) {
    if (rec.state === 'locked' && rec.link === link) store.returnToQueue(rec, true);
  }
}

function acceptSession(link, store, sid) {
  const now = Date.now();
  const sl = { link, lockedUntil: 0, timer: null };
  store.sessionLocks.set(sid, sl);
  link.__sessionId = sid;
  renewSessionLock(store, sid, sl, now);
  const ra = link.remote.attach;
  const filter = {};
  filter[SESSION_FILTER] = types.wrap_described(sid, SESSION_FILTER_CODE);
  link.set_source({ address: ra.source.address, filter });
  link.local.attach.properties = { 'com.microsoft:locked-until-utc': dotnetTicks(sl.lockedUntil) };
  store.receivers.push(link);
}

function nextFreeSession(store) {
  const now = Date.now();
  for (const rec of store.msgs.values()) {
    if (rec.state !== 'active' || rec.sessionId === null) continue;
    if (rec.expiresAt && rec.expiresAt <= now) continue;
    if (store.sessionLocks.has(rec.sessionId)) continue;
    return rec.sessionId;
  }
  return null;
}

function openSbReceiver(link, store) {
  echoTerminus(link);
  const filter = (link.remote.attach.source || {}).filter;
  if (filter && Object.prototype.hasOwnProperty.call(filter, SESSION_FILTER)) {
    let sid = filter[SESSION_FILTER];
    if (sid && typeof sid === 'object' && sid.value !== undefined) sid = sid.value;
    if (sid !== null && sid !== undefined) {
      sid = String(sid);
      const cur = store.sessionLocks.get(sid);
      if (cur && cur.link.is_open()) {
        return refuse(link, 'com.microsoft:session-cannot-be-locked', `The requested session '${sid}' cannot be accepted. It may be locked by another receiver.`);
      }
      acceptSession(link, store, sid);
      setImmediate(() => store.pump());
      return;
    }
    const free = nextFreeSession(store);
    if (free !== null) {
      acceptSession(link, store, free);
      setImmediate(() => store.pump());
      return;
    }
    // No session available: hold the attach answer until one is, or until the client's timeout.
    let timeoutMs = Number(linkProps(link)['com.microsoft:timeout'] || 60000);
    if (!(timeoutMs > 0)) timeoutMs = 60000;
    link.state.local_open = false;
    link.state.open_requests = 0;
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (!link.is_remote_open()) return;
      const s = nextFreeSession(store);
      if (s !== null) {
        acceptSession(link, store, s);
        link.open();
        setImmediate(() => store.pump());
        return;
      }
      if (Date.now() >= deadline) {
        link.open();
        refuse(link, 'com.microsoft:timeout', 'The operation did not complete within the allotted timeout. No session is available.');
        return;
      }
      setTimeout(poll, 50);
    };
    setTimeout(poll, 50);
    return;
  }
  if (store.requiresSession) {
    return refuse(link, 'amqp:not-allowed', `It is not possible for an entity that requires sessions to create a non-sessionful message receiver. ${store.path}`);
  }
  store.receivers.push(link);
  setImmediate(() => store.pump());
}

function removeLink(link) {
  if (link.__store) {
    const st = link.__store;
    st.receivers = st.receivers.filter((l) => l !== link);
    if (link.__sessionId !== undefined) releaseSession(st, link);
  }
  if (link.__eh) {
    const set = link.__eh.part.receivers.get(link.__eh.cg);
    if (set) set.delete(link);
  }
}

// ---------------------------------------------------------------------------------------------
// Container

const container = rhea.create_container({
  id: 'azbind-amqp-peer',
  treat_modified_as_released: false,
  autoaccept: false,
});
container.sasl_server_mechanisms.enable_anonymous();

const connections = new Set();
container.on('connection_open', (ctx) => {
  stats.connections++;
  connections.add(ctx.connection);
  debug('connection open', ctx.connection.options.id);
});

container.on('sender_open', (ctx) => {
  // The client's receiver link: the peer sends on it.
  const link = ctx.sender;
  const conn = ctx.connection;
  track(conn, '__senders', link);
  const source = (link.remote.attach.source || {}).address;
  const r = resolveSource(source);
  debug('client receiver attach', source);
  if (r && r.kind === 'rpc') {
    echoTerminus(link);
    return;
  }
  if (faults.refuseLinks) return refuse(link, faults.refuseLinks.condition, faults.refuseLinks.description);
  if (!r) return refuse(link, 'amqp:not-found', `The messaging entity '${source}' could not be found.`);
  if (r.kind === 'error') return refuse(link, r.condition, r.description);
  if (r.kind === 'ehrecv') return openEhReceiver(link, r);
  if (r.kind === 'sbrecv') {
    link.__store = r.store;
    return openSbReceiver(link, r.store);
  }
  return refuse(link, 'amqp:not-found', `The messaging entity '${source}' could not be found.`);
});

container.on('receiver_open', (ctx) => {
  // The client's sender link: the peer receives on it.
  const link = ctx.receiver;
  track(ctx.connection, '__receivers', link);
  const target = (link.remote.attach.target || {}).address;
  const r = resolveTarget(target);
  debug('client sender attach', target);
  echoTerminus(link);
  link.local.attach.max_message_size = 1048576;
  if (r && (r.kind === 'cbs' || r.kind === 'sbmgmt' || r.kind === 'ehmgmt')) {
    link.__target = r;
    return;
  }
  if (faults.refuseLinks) return refuse(link, faults.refuseLinks.condition, faults.refuseLinks.description);
  if (!r) return refuse(link, 'amqp:not-found', `The messaging entity '${target}' could not be found.`);
  link.__target = r;
});

container.on('message', (ctx) => {
  const link = ctx.receiver;
  const r = link.__target;
  if (!r) return;
  const now = Date.now();
  try {
    if (r.kind === 'cbs' || r.kind === 'ehmgmt' || r.kind === 'sbmgmt') ctx.delivery.accept();
    if (r.kind === 'cbs') {
      const req = ctx.message;
      let [code, desc] = checkToken(req.body);
      const audience = (req.application_properties || {}).name;
      if (code === 202 && !audienceExists(audience)) {
        // The service answers a token for an entity that does not exist with 404.
        code = 404;
        desc = `The messaging entity '${audience}' could not be found. com.microsoft:entity-not-found`;
      }
      if (code === 202) stats.tokensAccepted++;
      else stats.tokensRejected++;
      log('cbs put-token', (req.application_properties || {}).name, '->', code);
      return reply(ctx, req, code, desc);
    }
    if (r.kind === 'ehmgmt') return ehManagement(ctx, ctx.message);
    if (r.kind === 'sbmgmt') {
      if (!r.store) return topicManagement(ctx, r.topic, ctx.message);
      return sbManagement(ctx, r.store, ctx.message);
    }
    const { outer, messages } = unpackIncoming(ctx);
    if (r.kind === 'sbsend') {
      const needsSession = storesFor(r.path).some((st) => st.requiresSession);
      if (needsSession && messages.some((p) => p.decoded.group_id === undefined || p.decoded.group_id === null)) {
        ctx.delivery.reject({
          condition: 'amqp:not-allowed',
          description: 'The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.',
        });
        return;
      }
      enqueueTo(r.path, messages, now);
      ctx.delivery.accept();
      return;
    }
    if (r.kind === 'ehsend') {
      let part = r.part;
      if (!part) {
        const key = outer && outer.message_annotations ? outer.message_annotations['x-opt-partition-key'] : undefined;
        part = r.hub.partitionFor(key);
      }
      for (const p of messages) r.hub.append(part, p, now);
      ctx.delivery.accept();
      setImmediate(() => r.hub.pump(part));
    }
  } catch (e) {
    log('error handling message:', e && e.stack ? e.stack : e);
    if (ctx.delivery) ctx.delivery.reject({ condition: 'amqp:internal-error', description: String(e && e.message) });
  }
});

container.on('sendable', (ctx) => {
  const link = ctx.sender;
  if (link.__store) link.__store.pump();
  if (link.__eh) link.__eh.hub.pump(link.__eh.part);
});

// A client that drains its credit gets what is available, then the rest of its credit back.
container.on('sender_draining', (ctx) => {
  const link = ctx.sender;
  if (link.__store) link.__store.pump();
  if (link.__eh) link.__eh.hub.pump(link.__eh.part);
  link.set_drained(true);
});

// settle settles a delivery the client disposed of, and forgets it, as the service does: with
// receiver-settle-mode second the client (go-amqp) sends its outcome unsettled and never settles
// again after ours, and the service's link forgets a delivery it settled. rhea frees a slot of its
// session's 2048-delivery buffer only once both sides settled, so every session stalled for good
// after 2048 peek-lock deliveries (a receiver then waited forever with credit and a full queue).
function settle(d, state) {
  d.update(true, state);
  d.remote_settled = true;
}

function dispositionRec(ctx) {
  const d = ctx.delivery;
  debug('disposition', d.remote_state && d.remote_state.constructor.composite_type, 'settled', d.remote_settled, 'seq', d.__rec && d.__rec.seq);
  const rec = d.__rec;
  const link = ctx.sender;
  const store = link.__store;
  if (!rec || !store) return null;
  // A disposition that crosses the peer's detach is ignored, as by the service: the client settles
  // again over $management.
  if (!link.state.local_open) return null;
  if (rec.token !== d.__token || rec.state !== 'locked') {
    settle(d, rhea.message.rejected({ error: { condition: 'com.microsoft:message-lock-lost', description: 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.' } }).described());
    return null;
  }
  return { rec, store, d, link };
}

container.on('accepted', (ctx) => {
  const x = dispositionRec(ctx);
  if (!x) return;
  x.store.remove(x.rec);
  settle(x.d);
});

container.on('released', (ctx) => {
  const x = dispositionRec(ctx);
  if (!x) return;
  // Released (the SDK's releaser gives back messages that arrived outside ReceiveMessages): unlock
  // without counting a delivery. Offer it again a little later, so that a link with spare credit
  // does not ping-pong it.
  x.store.unlock(x.rec);
  x.store.releases++;
  x.rec.deliveries = Math.max(0, x.rec.deliveries - 1);
  x.rec.state = 'released';
  setTimeout(() => {
    if (x.rec.state !== 'released' || !x.store.msgs.has(x.rec.seq)) return;
    x.store.returnToQueue(x.rec, true);
  }, 100);
  settle(x.d);
});

container.on('modified', (ctx) => {
  const x = dispositionRec(ctx);
  if (!x) return;
  const st = ctx.delivery.remote_state || {};
  if (st.undeliverable_here) {
    x.store.defer(x.rec);
  } else {
    x.store.returnToQueue(x.rec, true, typedMap(st.value && st.value[2]));
  }
  settle(x.d);
});

container.on('rejected', (ctx) => {
  const x = dispositionRec(ctx);
  if (!x) return;
  const st = ctx.delivery.remote_state || {};
  const err = st.error || {};
  const info = err.info || {};
  const reason = info.DeadLetterReason !== undefined ? info.DeadLetterReason : (err.condition === 'com.microsoft:dead-letter' ? undefined : err.condition);
  x.store.deadLetter(x.rec, reason, info.DeadLetterErrorDescription !== undefined ? info.DeadLetterErrorDescription : err.description);
  settle(x.d);
});

function onLinkGone(ctx) {
  const link = ctx.sender || ctx.receiver || ctx.link;
  if (link) removeLink(link);
}
container.on('sender_close', onLinkGone);
container.on('receiver_close', onLinkGone);
container.on('sender_error', () => {});
container.on('receiver_error', () => {});

function connectionGone(ctx) {
  const conn = ctx.connection;
  for (const link of conn.__senders || []) removeLink(link);
  conn.__senders = new Set();
  conn.__receivers = new Set();
  connections.delete(conn);
}
container.on('disconnected', connectionGone);
container.on('connection_close', connectionGone);
container.on('connection_error', () => {});
container.on('error', (e) => log('container error:', e && e.message));

// ---------------------------------------------------------------------------------------------
// Admin HTTP interface

const sockets = new Set();

function entityInfo(e) {
  if (e instanceof SBStore) {
    return { path: e.path, kind: e.kind, lockDurationMs: e.lockDuration, maxDeliveryCount: e.maxDeliveryCount, requiresSession: e.requiresSession, counts: e.counts() };
  }
  if (e.kind === 'topic') return { path: e.path, kind: 'topic', subscriptions: [...e.subscriptions.keys()] };
  return {
    path: e.path, kind: 'eventhub', consumerGroups: [...e.consumerGroups],
    partitions: e.partitions.map((p) => ({ id: p.id, count: p.events.length, lastSequenceNumber: p.events.length - 1 })),
  };
}

function deadLetters(store) {
  const d = store.dlq || store;
  return [...d.msgs.values()].map((rec) => {
    const body = rec.p.decoded && rec.p.decoded.body;
    let text = null;
    if (body && body.typecode === 0x75 && !body.multiple) text = Buffer.from(body.content).toString('utf8');
    return {
      sequenceNumber: rec.seq, messageId: rec.messageId, sessionId: rec.sessionId, reason: rec.reason,
      description: rec.description, deliveryCount: rec.deliveries, body: text, state: rec.state,
    };
  });
}

function sendJSON(res, code, obj) {
  const b = JSON.stringify(obj);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
  res.end(b);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const s = Buffer.concat(chunks).toString('utf8');
      if (!s) return resolve({});
      try {
        resolve(JSON.parse(s));
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function setStalled(on) {
  faults.stalled = on;
  for (const s of sockets) {
    if (on) s.pause();
    else s.resume();
  }
  if (!on) {
    for (const e of new Set(entities.values())) {
      if (e instanceof SBStore) e.pump();
      else if (e.kind === 'eventhub') for (const p of e.partitions) e.pump(p);
    }
  }
}

const admin = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const entity = url.searchParams.get('entity');
    if (req.method === 'GET' && url.pathname === '/health') return sendJSON(res, 200, { ok: true });
    if (req.method === 'GET' && url.pathname === '/stats') {
      return sendJSON(res, 200, Object.assign({ openSockets: sockets.size, stalled: faults.stalled, refuseLinks: !!faults.refuseLinks }, stats));
    }
    if (req.method === 'POST' && url.pathname === '/entities') {
      applyConfig(await readBody(req));
      return sendJSON(res, 200, { ok: true });
    }
    if (req.method === 'GET' && url.pathname === '/entities') {
      return sendJSON(res, 200, [...new Set(entities.values())].map(entityInfo));
    }
    if (req.method === 'GET' && (url.pathname === '/counts' || url.pathname === '/deadletters' || url.pathname === '/entity')) {
      const e = entities.get(norm(entity));
      if (!e) return sendJSON(res, 404, { error: `entity ${entity} not found` });
      if (url.pathname === '/entity') return sendJSON(res, 200, entityInfo(e));
      if (!(e instanceof SBStore)) return sendJSON(res, 400, { error: `${entity} is not a queue or subscription` });
      if (url.pathname === '/counts') return sendJSON(res, 200, e.counts());
      return sendJSON(res, 200, deadLetters(e));
    }
    if (req.method === 'POST' && url.pathname === '/faults') {
      const b = await readBody(req);
      switch (b.action) {
        case 'drop-connections': {
          const n = sockets.size;
          for (const s of sockets) s.destroy();
          log('fault: dropped', n, 'connections');
          return sendJSON(res, 200, { dropped: n });
        }
        case 'detach-links': {
          // Detach every entity link (not $cbs / $management), keeping the connections, as the
          // service does with amqp:link:detach-forced.
          let n = 0;
          for (const conn of connections) {
            for (const link of [...(conn.__senders || []), ...(conn.__receivers || [])]) {
              if (!link.is_open()) continue;
              const addr = link.is_sender() ? (link.remote.attach.source || {}).address : (link.remote.attach.target || {}).address;
              const a = norm(addr);
              if (a === '$cbs' || a === '$management' || a.endsWith('/$management')) continue;
              removeLink(link);
              link.close({ condition: b.condition || 'amqp:link:detach-forced', description: 'amqp-peer detached the link (fault injection).' });
              n++;
            }
          }
          log('fault: detached', n, 'links');
          return sendJSON(res, 200, { detached: n });
        }
        case 'stall':
          setStalled(true);
          log('fault: stalled');
          return sendJSON(res, 200, { ok: true });
        case 'unstall':
          setStalled(false);
          log('fault: unstalled');
          return sendJSON(res, 200, { ok: true });
        case 'refuse-links':
          faults.refuseLinks = { condition: b.condition || 'com.microsoft:server-busy', description: b.description || 'amqp-peer refuses new links (fault injection).' };
          log('fault: refusing new links with', faults.refuseLinks.condition);
          return sendJSON(res, 200, { ok: true });
        case 'accept-links':
          faults.refuseLinks = null;
          log('fault: accepting new links');
          return sendJSON(res, 200, { ok: true });
        default:
          return sendJSON(res, 400, { error: `unknown fault action ${b.action}` });
      }
    }
    return sendJSON(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  } catch (e) {
    return sendJSON(res, 500, { error: String(e && e.message) });
  }
});

// tcp_no_delay: rhea leaves Nagle's algorithm on for accepted connections, so after the first
// transfer answering a flow the rest waited for the client's delayed ACK (up to 40 ms): a receive
// of 32 messages came back with a few after the SDK's 20 ms TimeAfterFirstMessage, and concurrent
// receivers stalled at ~400 msg/s. The service's AMQP stack (Microsoft.Azure.Amqp
// TcpTransportListener) sets NoDelay on its sockets, and sends up to the link credit at once.
//
// session_buffer_size: rhea keeps every delivery not yet settled by both sides in a session buffer
// of 2048 and stops sending when it is full, freeing slots only from the oldest: one message a
// handler holds for minutes would stop its session after 2047 more. The service has no such
// bound below the link credit; 65536 slots are beyond any credit a test asks for.
const server = container.listen({ port: config.port || 0, host: '127.0.0.1', tcp_no_delay: true, session_buffer_size: { outgoing: 65536 } });
server.on('connection', (s) => {
  // rhea writes every frame with its own socket write, a syscall and a TCP segment each (with
  // NoDelay): over a third of the peer's busy time at a few thousand messages a second. Frames
  // written in one turn of the event loop go out together (one writev), as a broker's buffered
  // writer does; nothing waits longer than that turn.
  const write = s.write;
  let corked = false;
  s.write = function (...args) {
    if (!corked) {
      corked = true;
      s.cork();
      process.nextTick(() => {
        corked = false;
        s.uncork();
      });
    }
    return write.apply(this, args);
  };
  sockets.add(s);
  if (faults.stalled) s.pause();
  s.on('close', () => sockets.delete(s));
});
server.on('error', (e) => {
  console.error('amqp-peer: listen error', e.code || '', e.message);
  process.exit(1);
});
server.on('listening', () => {
  admin.listen(config.adminPort || 0, '127.0.0.1');
});
admin.on('error', (e) => {
  console.error('amqp-peer: admin listen error', e.code || '', e.message);
  process.exit(1);
});
admin.on('listening', () => {
  log(`amqp-peer listening amqp=127.0.0.1:${server.address().port} admin=127.0.0.1:${admin.address().port}`);
});

function shutdown() {
  for (const s of sockets) s.destroy();
  server.close();
  admin.close();
  process.exit(0);
}
process.on('uncaughtException', (e) => {
  // A bug in the peer must not take every test's connection down: log it and keep serving.
  log('uncaught exception:', e && e.stack ? e.stack : e);
});
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
