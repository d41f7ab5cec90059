// Compares kinesalite-fast.cjs with kinesalite's own helpers over many
// inputs: the sequence numbers and objects kinesalite makes, edge values
// around its version boundaries, and malformed input. Each call's result,
// or its error's class and message, must be identical. Prints one JSON line
// {"compared":N,"mismatches":[...]} and exits 1 on any mismatch.
//
// Usage: node kinesalite-fast-check.cjs <repository root> <patch file> [seed]
"use strict";

const { createRequire } = require("node:module");
const path = require("node:path");

const [root, patchFile, seedArg] = process.argv.slice(2);
const requireFrom = createRequire(path.join(path.resolve(root), "package.json"));
const dbPath = requireFrom.resolve("kinesalite/db");
const original = requireFrom(dbPath);
const BigNumber = createRequire(dbPath)("bignumber.js");
const fast = require(path.resolve(patchFile)).fastSequences({ ...original }, BigNumber);

// A small deterministic generator (mulberry32), so a failure reproduces.
let seed = Number(seedArg || 1) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(random() * n);
const pick = (xs) => xs[int(xs.length)];
const hex = (n) => Array.from({ length: n }, () => "0123456789abcdef"[int(16)]).join("");
const digits = (n) => Array.from({ length: n }, () => "0123456789"[int(10)]).join("");

function outcome(fn, args) {
  try {
    const value = fn(...args);
    return { value: value instanceof BigNumber ? "BigNumber:" + value.toFixed() : value };
  } catch (err) {
    return { error: `${err && err.constructor && err.constructor.name}: ${err && err.message}` };
  }
}

let compared = 0;
const mismatches = [];
function same(name, args) {
  compared++;
  const want = JSON.stringify(outcome(original[name], args));
  const got = JSON.stringify(outcome(fast[name], args));
  if (want !== got && mismatches.length < 20) mismatches.push({ name, args: JSON.stringify(args), want, got });
}

// Objects shaped like the ones kinesalite builds, and some it never does.
function sequenceObject() {
  const shardCreateTime = pick([0, 1, 999, 1000, int(2e12), 1.6e12 + int(1e9), 16025174999000, 16025175000000, -5000, NaN, undefined]);
  return {
    shardCreateTime,
    seqIx: pick([undefined, null, 0, 1, int(1e6), 2 ** 53 - 1, 2 ** 53, 1.5, -3, "0", "7", digits(1 + int(19)), "9223372036854775807",
      new BigNumber("7fffffffffffffff", 16).toFixed(), "12abc", "", true]),
    seqTime: pick([undefined, 0, shardCreateTime, (shardCreateTime || 0) + int(1e9), NaN]),
    shardIx: pick([undefined, 0, 1, int(100), int(2 ** 31), 2147483647, -1, -int(100), 15, 16]),
    byte1: pick([undefined, "00", hex(2), "AB", "zz"]),
    seqRand: pick([undefined, hex(14), hex(16), ""]),
    version: pick([undefined, undefined, null, 0, 1, 2, 3, "2"]),
  };
}

const boundaries = [];
for (const base of [2n ** 124n, 2n ** 129n, 2n ** 185n, 2n ** 185n + 2n ** 184n]) {
  for (const delta of [-2n, -1n, 0n, 1n, 2n]) boundaries.push((base + delta).toString());
}

for (let i = 0; i < 20000; i++) {
  const obj = sequenceObject();
  same("stringifySequence", [obj]);
  const seq = outcome(original.stringifySequence, [obj]).value;
  if (typeof seq === "string") {
    same("parseSequence", [seq]);
    same("incrementSequence", [seq]);
    same("incrementSequence", [seq, pick([undefined, 0, int(2e12)])]);
  }
  same("incrementSequence", [obj, pick([undefined, int(2e12)])]);
  same("parseSequence", [digits(1 + int(60))]);
  same("parseSequence", ["0".repeat(int(3)) + digits(1 + int(58))]);
  same("partitionKeyToHashKey", [pick(["", "a", "user-" + int(1e5), hex(int(300)), "ünï©ødé-" + int(100), "\u{1F600}" + hex(8)])]);
}
for (const seq of boundaries) {
  same("parseSequence", [seq]);
  same("incrementSequence", [seq]);
}
for (const bad of ["", " 1", "1 ", "-5", "+5", "1e5", "1.5", "0x1f", "abc", "NaN", "Infinity", 42, 2 ** 130, null, undefined, {}, []]) {
  same("parseSequence", [bad]);
}

// The hash keys must compare like the original's against shard boundaries.
for (let i = 0; i < 2000; i++) {
  const key = "user-" + int(1e6);
  const own = BigInt(original.partitionKeyToHashKey(key).toFixed()); // equal, just above, just below
  const bound = pick([digits(1 + int(39)), "0", "340282366920938463463374607431768211455", "170141183460469231731687303715884105728",
    own.toString(), (own + 1n).toString(), (own - 1n).toString(), "0" + own.toString()]);
  compared++;
  const want = original.partitionKeyToHashKey(key).comparedTo(bound);
  const got = fast.partitionKeyToHashKey(key).comparedTo(bound);
  if (want !== got && mismatches.length < 20) mismatches.push({ name: "comparedTo", args: JSON.stringify([key, bound]), want, got });
}

// PutRecords validation: valid requests and requests breaking each rule.
const validations = requireFrom("kinesalite/validations");
const putRecords = requireFrom("kinesalite/validations/putRecords");
const checks = require(path.resolve(patchFile)).fastPutRecordsChecks({ ...validations }, putRecords.types);

function validate(v, data) {
  try {
    const checked = v.checkTypes(data, putRecords.types);
    v.checkValidations(checked, putRecords.types, putRecords.custom, "PutRecords");
    return JSON.stringify({ checked });
  } catch (err) {
    return JSON.stringify({ status: err.statusCode, body: err.body, message: err.message });
  }
}

const b64 = (n) => Buffer.from(Array.from({ length: n }, () => int(256))).toString("base64");
function blob() {
  const good = b64(int(40));
  return pick([
    good, good, good, b64(int(3)), "",
    good.slice(0, -1), good + "=", good.replace(/[A-Za-z]/, "-"), good.replace(/.$/, "="), "QR==", "QQ==", "Q===", "=QQQ",
    good.slice(0, 2) + "=" + good.slice(3), " " + good.slice(1), good.replace(/.(?=.$)/, "\n"), "ü" + good.slice(1),
    5, null, undefined, true, {}, [], Buffer.from("x").toString("hex"),
  ]);
}
function partitionKey() {
  return pick(["user-" + int(1000), "u", "", "k".repeat(256), "k".repeat(257), "ünï©ødé", "\u{1F600}".repeat(128), "\u{1F600}".repeat(129), 7, null, undefined, ["a"]]);
}
function record() {
  if (int(40) === 0) return pick([null, "x", 5, [], true]);
  const r = { PartitionKey: partitionKey(), Data: blob() };
  if (int(6) === 0) r.ExplicitHashKey = pick([null, undefined, "0", "123", "340282366920938463463374607431768211456", "-1", "01", 5]);
  if (int(10) === 0) r.Extra = pick([1, "x", null, { a: 1 }]);
  if (int(20) === 0) delete r.PartitionKey;
  if (int(20) === 0) delete r.Data;
  return r;
}
function request() {
  const n = pick([0, 1, 1, 2, 3, 5, 10, 30, 500, 501]);
  const good = int(3) > 0; // many requests with every record valid
  const records = Array.from({ length: n }, () => good ? { PartitionKey: "user-" + int(1000), Data: b64(int(60)) } : record());
  if (good && n > 0 && int(4) === 0) records[int(n)] = record(); // one bad record among good ones
  const data = { Records: records, StreamName: pick(["stream-1", "s", "a.b_c-d", "", "bad name", "x".repeat(128), "x".repeat(129), 5, null]) };
  if (int(20) === 0) data.Records = pick([null, undefined, "x", {}, 5]);
  if (int(20) === 0) delete data.StreamName;
  if (int(10) === 0) data.Unknown = pick([1, null, "x"]);
  return pick([data, data, data, data, null, [], "x"]);
}
for (let i = 0; i < 3000; i++) {
  const data = request();
  compared++;
  const want = validate(validations, structuredClone(data));
  const got = validate(checks, structuredClone(data));
  if (want !== got && mismatches.length < 20) mismatches.push({ name: "putRecords validation", args: JSON.stringify(data).slice(0, 300), want: want.slice(0, 300), got: got.slice(0, 300) });
}
// Data at and just over 1 MiB decoded.
for (const size of [1048576, 1048577]) {
  const data = { Records: [{ PartitionKey: "k", Data: Buffer.alloc(size, 7).toString("base64") }], StreamName: "s" };
  compared++;
  const want = validate(validations, structuredClone(data));
  const got = validate(checks, structuredClone(data));
  if (want !== got) mismatches.push({ name: "putRecords validation", args: "Data of " + size + " bytes", want: want.slice(0, 300), got: got.slice(0, 300) });
}

process.stdout.write(JSON.stringify({ compared, mismatches }) + "\n");
process.exit(mismatches.length ? 1 : 0);
