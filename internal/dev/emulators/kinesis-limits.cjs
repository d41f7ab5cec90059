// Per-shard throughput limits for kinesalite, as Kinesis applies them to
// the shards of a PROVISIONED and of an ON_DEMAND stream alike ("A shard
// supports 1 MB/s and 1000 records per second for writes and 2 MB/s for
// reads in both on-demand and provisioned capacity modes",
// https://docs.aws.amazon.com/streams/latest/dev/working-with-streams.html).
// An ON_DEMAND stream starts at 4 MB/s of writes, which the local run's 4
// shards give; AWS then adds shards up to twice the previous peak
// (https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html),
// which is not emulated: kinesalite keeps the shards it was created with.
//
//   - writes: 1 MiB/s (data plus partition key) or 1,000 records/s per
//     shard. PutRecords fails each entry over the limit with ErrorCode
//     ProvisionedThroughputExceededException and counts it in
//     FailedRecordCount; PutRecord fails the call.
//     https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
//   - reads: 5 GetRecords calls/s and 2 MiB/s per shard. A call may return
//     more than what is left of the second (up to 10 MiB); later calls then
//     fail until the shard has earned it back ("If a call returns 10 MiB,
//     subsequent calls made within the next 5 seconds throw an exception").
//     https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html
//     https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
//
// Each limit is a token bucket holding one second's worth, refilled
// continuously. The launcher installs this before kinesalite loads its
// actions; GET /streamfn/limits answers the counts as JSON.
"use strict";

const crypto = require("node:crypto");

const MiB = 1024 * 1024;
const LIMITS = {
  writeRecords: 1000, // per shard per second
  writeBytes: 1 * MiB,
  readCalls: 5,
  readBytes: 2 * MiB,
};

// The counts GET /streamfn/limits reports.
const stats = {
  putRecordsEntriesThrottled: 0, // PutRecords entries failed with ProvisionedThroughputExceededException
  putRecordCallsThrottled: 0,
  getRecordsCallsThrottled: 0,
  shards: {}, // "<stream>/<shardId>" -> {writesThrottled, readsThrottled}
};

class Bucket {
  constructor(capacity, now) {
    this.capacity = capacity;
    this.tokens = capacity;
    this.at = now;
  }
  refill(now) {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.capacity);
    this.at = now;
  }
}

const shards = new Map(); // "<stream>/<shardId>" -> buckets
function shardOf(key, now) {
  let s = shards.get(key);
  if (!s) {
    s = {
      writeRecords: new Bucket(LIMITS.writeRecords, now),
      writeBytes: new Bucket(LIMITS.writeBytes, now),
      readCalls: new Bucket(LIMITS.readCalls, now),
      readBytes: new Bucket(LIMITS.readBytes, now),
    };
    shards.set(key, s);
    stats.shards[key] = { writesThrottled: 0, readsThrottled: 0 };
  }
  return s;
}

// takeWrite spends one record of size bytes from a shard, or reports that
// the shard has no room for it this second.
function takeWrite(key, size, now) {
  const s = shardOf(key, now);
  s.writeRecords.refill(now);
  s.writeBytes.refill(now);
  if (s.writeRecords.tokens < 1 || s.writeBytes.tokens < size) {
    stats.shards[key].writesThrottled++;
    return false;
  }
  s.writeRecords.tokens -= 1;
  s.writeBytes.tokens -= size;
  return true;
}

function base64Bytes(b64) {
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

function recordSize(record) {
  return base64Bytes(record.Data || "") + Buffer.byteLength(record.PartitionKey || "", "utf8");
}

// shardFor is the open shard whose hash key range holds the record, as
// PutRecords routes it; undefined when none does (the original then
// answers).
function shardFor(stream, record) {
  const hashKey = record.ExplicitHashKey != null
    ? BigInt(record.ExplicitHashKey)
    : BigInt("0x" + crypto.createHash("md5").update(record.PartitionKey, "utf8").digest("hex"));
  for (const shard of stream.Shards) {
    if (shard.SequenceNumberRange.EndingSequenceNumber == null &&
      hashKey >= BigInt(shard.HashKeyRange.StartingHashKey) &&
      hashKey <= BigInt(shard.HashKeyRange.EndingHashKey)) {
      return shard.ShardId;
    }
  }
  return undefined;
}

function rateExceeded(db, shardId, streamName, account) {
  return db.clientError("ProvisionedThroughputExceededException",
    "Rate exceeded for shard " + shardId + " in stream " + streamName + " under account " + account + ".");
}

function limitedPutRecords(original, db) {
  return function putRecords(store, data, cb) {
    store.getStream(data.StreamName, function (err, stream) {
      if (err || !stream || !stream.Shards) return original(store, data, cb);
      const now = Date.now();
      const results = new Array(data.Records.length);
      const passed = [], passedAt = [];
      let throttled = 0;
      try {
        data.Records.forEach(function (record, i) {
          const shardId = shardFor(stream, record);
          if (shardId === undefined || takeWrite(data.StreamName + "/" + shardId, recordSize(record), now)) {
            passed.push(record);
            passedAt.push(i);
            return;
          }
          throttled++;
          results[i] = {
            ErrorCode: "ProvisionedThroughputExceededException",
            ErrorMessage: "Rate exceeded for shard " + shardId + " in stream " + data.StreamName + " under account " + store.metaDb.awsAccountId + ".",
          };
        });
      } catch (e) {
        return original(store, data, cb); // a hash key the original rejects
      }
      stats.putRecordsEntriesThrottled += throttled;
      if (throttled === 0) return original(store, data, cb);
      if (passed.length === 0) return cb(null, { FailedRecordCount: throttled, Records: results });
      original(store, { ...data, Records: passed }, function (err, out) {
        if (err) return cb(err);
        out.Records.forEach(function (r, j) {
          results[passedAt[j]] = r;
        });
        cb(null, { ...out, FailedRecordCount: (out.FailedRecordCount || 0) + throttled, Records: results });
      });
    });
  };
}

function limitedPutRecord(original, db) {
  return function putRecord(store, data, cb) {
    store.getStream(data.StreamName, function (err, stream) {
      if (err || !stream || !stream.Shards) return original(store, data, cb);
      let shardId;
      try {
        shardId = shardFor(stream, data);
      } catch (e) {
        return original(store, data, cb);
      }
      if (shardId !== undefined && !takeWrite(data.StreamName + "/" + shardId, recordSize(data), Date.now())) {
        stats.putRecordCallsThrottled++;
        return cb(rateExceeded(db, shardId, data.StreamName, store.metaDb.awsAccountId));
      }
      original(store, data, cb);
    });
  };
}

// iteratorShard is the stream and shard an iterator reads, decoded as
// kinesalite's getRecords decodes it; null for anything the original
// should judge.
function iteratorShard(db, iterator) {
  try {
    const buffer = Buffer.from(iterator, "base64");
    if (buffer.length < 152 || buffer.length > 280 || buffer.slice(0, 8).toString("hex") !== "0000000000000001") return null;
    const decipher = crypto.createDecipheriv("aes-256-cbc", db.ITERATOR_PWD_KEY, db.ITERATOR_PWD_IV);
    const pieces = Buffer.concat([decipher.update(buffer.slice(8)), decipher.final()]).toString("utf8").split("/");
    if (pieces.length !== 5) return null;
    return { streamName: pieces[1], shardId: pieces[2] };
  } catch (e) {
    return null;
  }
}

function limitedGetRecords(original, db) {
  return function getRecords(store, data, cb) {
    const target = iteratorShard(db, data.ShardIterator);
    if (!target) return original(store, data, cb);
    const key = target.streamName + "/" + target.shardId, now = Date.now();
    const s = shardOf(key, now);
    s.readCalls.refill(now);
    s.readBytes.refill(now);
    if (s.readCalls.tokens < 1 || s.readBytes.tokens <= 0) {
      stats.getRecordsCallsThrottled++;
      stats.shards[key].readsThrottled++;
      return cb(db.clientError("ProvisionedThroughputExceededException",
        "Rate exceeded for Shard - " + target.shardId + " in stream " + target.streamName + " under account " + store.metaDb.awsAccountId + "."));
    }
    s.readCalls.tokens -= 1;
    original(store, data, function (err, out) {
      if (!err && out && out.Records) {
        let bytes = 0;
        for (const r of out.Records) bytes += recordSize(r);
        s.readBytes.tokens -= bytes; // may go below zero: the next calls wait it out
      }
      cb(err, out);
    });
  };
}

// install replaces kinesalite's PutRecords, PutRecord and GetRecords
// actions before kinesalite's index loads them. requireFrom resolves
// modules as the launcher does.
function install(requireFrom) {
  const db = requireFrom("kinesalite/db");
  const wrap = (name, limited) => {
    const path = requireFrom.resolve("kinesalite/actions/" + name);
    const original = requireFrom(path);
    requireFrom.cache[path].exports = limited(original, db);
  };
  wrap("putRecords", limitedPutRecords);
  wrap("putRecord", limitedPutRecord);
  wrap("getRecords", limitedGetRecords);
}

// serveStats answers GET /streamfn/limits on server and hands every other
// request to kinesalite.
function serveStats(server) {
  const handlers = server.listeners("request");
  server.removeAllListeners("request");
  server.on("request", function (req, res) {
    if (req.method === "GET" && req.url === "/streamfn/limits") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ limits: LIMITS, ...stats }));
      return;
    }
    for (const h of handlers) h.call(this, req, res);
  });
}

module.exports = { install, serveStats, LIMITS };
