// Faster drop-in replacements for parts of kinesalite, installed by the
// launcher (launch.mjs) before kinesalite serves a request. kinesalite is
// the local pipeline's busiest process, and these were most of its CPU:
//
//   - Sequence numbers. kinesalite parses and prints every record's
//     sequence number (a decimal of about 56 digits) through bignumber.js,
//     converting between bases 10 and 16 in JavaScript: at 8,000 records/s,
//     37 of the 116 µs of a core it spent per record. Native BigInt does
//     the same conversions in C++.
//   - Shard lookup. PutRecords compares each record's hash key with every
//     shard's range, and each comparison parsed the range's 39-digit
//     decimal with bignumber.js again: about 4 µs per record with 8 shards.
//   - PutRecords validation. Checking each record's base64 data took a
//     regular expression and three base64 passes: about 15% of kinesalite's
//     CPU. One round trip (decode, encode, compare) decides the same.
//
// Every replacement is exact. The sequence helpers run the original's steps
// on the same strings, with BigInt only where the original converts between
// bases. Each replacement handles only the inputs kinesalite itself
// produces or a valid request holds and hands anything else (a sequence
// number that is not a plain decimal, a request that breaks a rule) to the
// original function, so even the errors stay the same.
// TestKinesaliteFastMatchesOriginal checks them against the originals.
"use strict";

const crypto = require("node:crypto");

const DECIMAL = /^\d+$/;
const HEX = /^[0-9a-f]+$/;

const POW_2_124 = 1n << 124n;
const POW_2_124_NEXT = (1n << 125n) * 16n;
const POW_2_185 = 1n << 185n;
const POW_2_185_NEXT = POW_2_185 + (POW_2_185 >> 1n); // 2^185 × 1.5

// fastSequences returns replacements for the functions of kinesalite's db
// module (db/index.js); original is that module, BigNumber its bignumber.js.
function fastSequences(original, BigNumber) {
  function parseSequence(seq) {
    if (typeof seq !== "string" || !DECIMAL.test(seq)) return original.parseSequence(seq);
    let seqNum = BigInt(seq);
    if (seqNum < POW_2_124) seqNum += POW_2_124;
    const hex = seqNum.toString(16);
    const version = seqNum < POW_2_124_NEXT ? 0 :
      (seqNum > POW_2_185 && seqNum < POW_2_185_NEXT) ? parseInt(hex.slice(hex.length - 1), 16) : null;
    if (version == 2) {
      let seqIxHex = hex.slice(11, 27), shardIxHex = hex.slice(38, 46);
      if (parseInt(seqIxHex[0], 16) > 7) throw new Error("Sequence index too high");
      if (parseInt(shardIxHex[0], 16) > 7) shardIxHex = "-" + shardIxHex;
      const shardCreateSecs = parseInt(hex.slice(1, 10), 16);
      if (shardCreateSecs >= 16025175000) throw new Error("Date too large: " + shardCreateSecs);
      return {
        shardCreateTime: shardCreateSecs * 1000,
        seqIx: BigInt("0x" + seqIxHex).toString(),
        byte1: hex.slice(27, 29),
        seqTime: parseInt(hex.slice(29, 38), 16) * 1000,
        shardIx: parseInt(shardIxHex, 16),
        version: version,
      };
    } else if (version == 1) {
      return {
        shardCreateTime: parseInt(hex.slice(1, 10), 16) * 1000,
        byte1: hex.slice(11, 13),
        seqTime: parseInt(hex.slice(13, 22), 16) * 1000,
        seqRand: hex.slice(22, 36),
        seqIx: parseInt(hex.slice(36, 38), 16),
        shardIx: parseInt(hex.slice(38, 46), 16),
        version: version,
      };
    } else if (version === 0) {
      const shardCreateSecs = parseInt(hex.slice(1, 10), 16);
      if (shardCreateSecs >= 16025175000) throw new Error("Date too large: " + shardCreateSecs);
      return {
        shardCreateTime: shardCreateSecs * 1000,
        byte1: hex.slice(10, 12),
        seqRand: hex.slice(12, 28),
        shardIx: parseInt(hex.slice(28, 32), 16),
        version: version,
      };
    }
    throw new Error("Unknown version: " + version);
  }

  // seqIxHex is new BigNumber(seqIx || 0).toString(16) for the seqIx values
  // kinesalite uses (a safe non-negative integer or a decimal string), and
  // null for anything else.
  function seqIxHex(seqIx) {
    if (!seqIx) return "0";
    if (typeof seqIx === "number") return Number.isSafeInteger(seqIx) && seqIx > 0 ? seqIx.toString(16) : null;
    if (typeof seqIx === "string" && DECIMAL.test(seqIx)) return BigInt(seqIx).toString(16);
    return null;
  }

  function stringifySequence(obj) {
    let hex;
    if (obj.version == null || obj.version == 2) {
      const ix = seqIxHex(obj.seqIx);
      if (ix === null) return original.stringifySequence(obj);
      hex = [
        "2",
        ("00000000" + Math.floor(obj.shardCreateTime / 1000).toString(16)).slice(-9),
        (obj.shardIx || 0).toString(16).slice(-1),
        ("0000000000000000" + ix).slice(-16),
        obj.byte1 || "00",
        ("00000000" + Math.floor((obj.seqTime || obj.shardCreateTime) / 1000).toString(16)).slice(-9),
        original.shardIxToHex(obj.shardIx),
        "2",
      ].join("");
    } else if (obj.version == 1) {
      hex = [
        "2",
        ("00000000" + Math.floor(obj.shardCreateTime / 1000).toString(16)).slice(-9),
        (obj.shardIx || 0).toString(16).slice(-1),
        obj.byte1 || "00",
        ("00000000" + Math.floor((obj.seqTime || obj.shardCreateTime) / 1000).toString(16)).slice(-9),
        obj.seqRand || "00000000000000",
        ("0" + (obj.seqIx || 0).toString(16)).slice(-2),
        original.shardIxToHex(obj.shardIx),
        "1",
      ].join("");
    } else if (obj.version === 0) {
      hex = [
        "1",
        ("00000000" + Math.floor(obj.shardCreateTime / 1000).toString(16)).slice(-9),
        obj.byte1 || "00",
        obj.seqRand || "0000000000000000",
        original.shardIxToHex(obj.shardIx).slice(-4),
      ].join("");
    } else {
      return original.stringifySequence(obj);
    }
    if (typeof hex !== "string" || !HEX.test(hex)) return original.stringifySequence(obj);
    return BigInt("0x" + hex).toString();
  }

  function incrementSequence(seqObj, seqTime) {
    if (typeof seqObj == "string") seqObj = parseSequence(seqObj);
    return stringifySequence({
      shardCreateTime: seqObj.shardCreateTime,
      seqIx: seqObj.seqIx,
      seqTime: seqTime || (seqObj.seqTime + 1000),
      shardIx: seqObj.shardIx,
    });
  }

  // The shard boundaries a hash key is compared with, as BigInt. A stream
  // has few; the bound only guards against a caller with endless others.
  const bounds = new Map();
  function boundOf(decimal) {
    let value = bounds.get(decimal);
    if (value === undefined) {
      value = BigInt(decimal);
      if (bounds.size < 100000) bounds.set(decimal, value);
    }
    return value;
  }

  // The same BigNumber value as the original's, built from decimal digits
  // (BigNumber stores decimal digits, so that skips its base conversion),
  // whose comparedTo compares with a decimal string as BigInt instead of
  // parsing it into a BigNumber first. Any other comparison is BigNumber's.
  function partitionKeyToHashKey(partitionKey) {
    const hex = crypto.createHash("md5").update(partitionKey, "utf8").digest("hex");
    const value = BigInt("0x" + hex);
    const key = new BigNumber(value.toString());
    key.comparedTo = function (y, b) {
      if (b === undefined && typeof y === "string" && DECIMAL.test(y)) {
        const bound = boundOf(y);
        return value < bound ? -1 : value > bound ? 1 : 0;
      }
      return BigNumber.prototype.comparedTo.call(this, y, b);
    };
    return key;
  }

  return { parseSequence, stringifySequence, incrementSequence, partitionKeyToHashKey };
}

const STREAM_NAME = /^[a-zA-Z0-9_.-]+$/;

// fastPutRecordsChecks returns replacements for checkTypes and
// checkValidations of kinesalite's validations module (original) that
// decide a PutRecords request (its types are putRecordsTypes) in one pass
// when it breaks no rule, with the result checkTypes would return, and
// leave every other request to the originals.
function fastPutRecordsChecks(original, putRecordsTypes) {
  const passed = new WeakSet(); // results of requests that broke no rule

  // valid is the checked request, or null when it might break a rule.
  function valid(data) {
    if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
    const records = data.Records, streamName = data.StreamName;
    if (!Array.isArray(records) || records.length < 1 || records.length > 500) return null;
    if (typeof streamName !== "string" || streamName.length > 128 || !STREAM_NAME.test(streamName)) return null;
    const checked = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (typeof r !== "object" || r === null || Array.isArray(r) || r.ExplicitHashKey != null) return null;
      const key = r.PartitionKey, blob = r.Data;
      if (typeof key !== "string" || key.length < 1 || key.length > 256 || typeof blob !== "string") return null;
      // The originals ask for a length that is a multiple of 4, only
      // base64 characters, padding only at the end, a round trip that
      // gives the same text, and at most 1 MiB decoded. A string that
      // survives the round trip is what Buffer writes: it meets the first
      // three by construction.
      const decoded = Buffer.from(blob, "base64");
      if (decoded.length > 1048576 || decoded.toString("base64") !== blob) return null;
      checked[i] = { PartitionKey: key, Data: blob };
    }
    return { Records: checked, StreamName: streamName };
  }

  function checkTypes(data, types) {
    if (types === putRecordsTypes) {
      const checked = valid(data);
      if (checked !== null) {
        passed.add(checked);
        return checked;
      }
    }
    return original.checkTypes(data, types);
  }

  function checkValidations(data, validations, custom, operation) {
    if (validations === putRecordsTypes && passed.has(data)) return;
    return original.checkValidations(data, validations, custom, operation);
  }

  return { checkTypes, checkValidations };
}

// install replaces the helpers on kinesalite's db and validations modules,
// which kinesalite calls them through. requireFrom resolves modules as the
// launcher does.
function install(requireFrom) {
  const dbPath = requireFrom.resolve("kinesalite/db");
  const db = requireFrom(dbPath);
  const BigNumber = require("node:module").createRequire(dbPath)("bignumber.js");
  Object.assign(db, fastSequences({ ...db }, BigNumber));
  const validations = requireFrom("kinesalite/validations");
  const putRecordsTypes = requireFrom("kinesalite/validations/putRecords").types;
  Object.assign(validations, fastPutRecordsChecks({ ...validations }, putRecordsTypes));
}

module.exports = { fastSequences, fastPutRecordsChecks, install };
