// The processor's Node.js peer: the same work as the Go processor's path
// from the raw invocation to the per-user write plan, written the way AWS's
// own Node.js Kinesis examples are: JSON.parse the invocation, then for each
// record Buffer.from(data, 'base64') and JSON.parse, validate with the
// activity schema's rules, and aggregate per user.
//
// Plain Node.js 20, no dependencies. Usage:
//
//	node bench/peer.mjs EVENT_FILE [-duration SECONDS]
//
// It prints one JSON line, the same shape as `go run ./scripts/bench`:
//
//	{"records":N,"records_per_s":R,"allocs_per_record":null}
//
// records_per_s is the median over repeated runs of the whole file;
// allocs_per_record is null because V8 does not count allocations.
import { readFileSync } from 'node:fs';

const MAX_EVENT_BYTES = 32 * 1024;
const MAX_ID_BYTES = 128;
const MAX_USER_AGENT_BYTES = 1024;
const TYPES = new Set(['view', 'add_to_cart', 'purchase', 'search']);
const NEEDS_PRODUCT = new Set(['view', 'add_to_cart', 'purchase']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const RECENT_PRODUCTS = 20;
const EVENT_ID_WINDOW = 64;

function optString(ev, field, max) {
  const v = ev[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`${field}: must be a string`);
  if (Buffer.byteLength(v) > max) throw new Error(`${field}: at most ${max} bytes allowed`);
  return v;
}

// validate applies the rules of internal/activity (Parse plus Validate).
function validate(bytes) {
  if (bytes.length > MAX_EVENT_BYTES) throw new Error('event over the size limit');
  const ev = JSON.parse(bytes.toString('utf8'));
  if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) throw new Error('not a JSON object');
  const eventId = optString(ev, 'eventId', MAX_ID_BYTES);
  const userId = optString(ev, 'userId', MAX_ID_BYTES);
  if (userId === '') throw new Error('userId: required');
  const type = optString(ev, 'type', 32);
  if (!TYPES.has(type)) throw new Error('type: must be one of view, add_to_cart, purchase, search');
  const productId = optString(ev, 'productId', MAX_ID_BYTES);
  if (productId === '' && NEEDS_PRODUCT.has(type)) throw new Error(`productId: required for type ${type}`);
  const category = optString(ev, 'category', MAX_ID_BYTES);
  let price = ev.price;
  if (price === undefined || price === null) price = undefined;
  else if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) throw new Error('price: must be a number >= 0');
  let quantity = ev.quantity;
  if (quantity === undefined || quantity === null) quantity = 1;
  else if (!Number.isSafeInteger(quantity) || quantity < 1) throw new Error('quantity: must be an integer >= 1');
  optString(ev, 'sessionId', MAX_ID_BYTES);
  const ts = optString(ev, 'ts', 64);
  if (!RFC3339.test(ts)) throw new Error('ts: must be an RFC 3339 timestamp');
  const at = Date.parse(ts);
  if (Number.isNaN(at)) throw new Error('ts: must be an RFC 3339 timestamp');
  optString(ev, 'userAgent', MAX_USER_AGENT_BYTES);
  if (eventId === '') throw new Error('eventId: required');
  return { eventId, userId, type, productId, category, price, quantity, at, ts };
}

// handler is the Lambda handler's body: from the invocation text to the
// per-user plan (what would be written) and the poison list.
function handler(invocationText) {
  const invocation = JSON.parse(invocationText);
  const users = new Map();
  const poison = [];
  for (const record of invocation.Records) {
    const bytes = Buffer.from(record.kinesis.data, 'base64');
    let ev;
    try {
      ev = validate(bytes);
    } catch (err) {
      poison.push({ sequenceNumber: record.kinesis.sequenceNumber, reason: err.message });
      continue;
    }
    let u = users.get(ev.userId);
    if (u === undefined) {
      u = { eventCount: 0, typeCounts: {}, categoryCounts: {}, lastAt: 0, lastEventAt: '', recent: [], purchaseMicros: 0n, seen: new Set(), seenOrder: [] };
      users.set(ev.userId, u);
    }
    if (u.seen.has(ev.eventId)) continue; // producer duplicate
    u.seen.add(ev.eventId);
    u.seenOrder.push(ev.eventId);
    if (u.seenOrder.length > EVENT_ID_WINDOW) u.seen.delete(u.seenOrder.shift());
    u.eventCount++;
    u.typeCounts[ev.type] = (u.typeCounts[ev.type] || 0) + 1;
    if (ev.category !== '') u.categoryCounts[ev.category] = (u.categoryCounts[ev.category] || 0) + 1;
    if (ev.at >= u.lastAt) { u.lastAt = ev.at; u.lastEventAt = new Date(ev.at).toISOString(); }
    if (ev.productId !== '') {
      const i = u.recent.findIndex((p) => p.id === ev.productId);
      if (i >= 0) u.recent.splice(i, 1);
      let j = 0;
      while (j < u.recent.length && u.recent[j].at > ev.at) j++;
      u.recent.splice(j, 0, { id: ev.productId, at: ev.at });
      if (u.recent.length > RECENT_PRODUCTS) u.recent.pop();
    }
    if (ev.type === 'purchase' && ev.price !== undefined) {
      u.purchaseMicros += BigInt(Math.round(ev.price * 1e6)) * BigInt(ev.quantity);
    }
  }
  return { users: users.size, poison: poison.length, records: invocation.Records.length };
}

function main() {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('-'));
  const di = args.indexOf('-duration');
  const seconds = di >= 0 ? Number(args[di + 1]) : 3;
  if (!file || !(seconds > 0)) {
    console.error('usage: node bench/peer.mjs EVENT_FILE [-duration SECONDS]');
    process.exit(2);
  }
  const text = readFileSync(file, 'utf8');
  let records = 0;
  for (let i = 0; i < 3; i++) records = handler(text).records; // warm up the JIT
  const rates = [];
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  while (rates.length < 5 || process.hrtime.bigint() < deadline) {
    const start = process.hrtime.bigint();
    handler(text);
    const ns = Number(process.hrtime.bigint() - start);
    rates.push(records / (ns / 1e9));
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  console.log(JSON.stringify({ records, records_per_s: Math.round(median), allocs_per_record: null }));
}

main();
