// Starts one local AWS stand-in on 127.0.0.1 (fauxqs: all interfaces, it
// allows nothing else) on a port the OS picks, and prints {"port":N} once it
// listens. internal/dev/emulators runs this; it is not meant to be run by hand.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [kind, shardLimit, throughput] = process.argv.slice(2);

function ready(port) {
  process.stdout.write(JSON.stringify({ port }) + "\n");
}

// kinesalite and dynalite rethrow a request's "aborted" error (a client that
// hung up mid-request: a cancelled context, a function killed by chaos) as an
// uncaught exception, which would take the whole server down. Survive exactly
// that; anything else still ends the process.
process.on("uncaughtException", (err) => {
  if (err && (err.code === "ECONNRESET" || err.message === "aborted")) return;
  console.error(err);
  process.exit(1);
});

// The parent owns our lifetime: when it closes our stdin, we go.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();

switch (kind) {
  case "kinesis": {
    // kinesalite keeps records in memdown, whose iterator hands over each
    // record with setImmediate: one record per turn of the event loop. While
    // PutRecords calls arrive, every GetRecords then crawls (about 1 s for
    // 850 records at 10,000 puts/s). Handing records over with
    // process.nextTick keeps the callbacks asynchronous, as memdown's
    // contract requires, but lets one read finish without yielding to I/O
    // after every record. It must be in place before memdown loads.
    const immediate = require.resolve("memdown/immediate.js");
    require.cache[immediate] = {
      id: immediate,
      filename: immediate,
      loaded: true,
      exports: (fn, ...args) => process.nextTick(fn, ...args),
    };
    // Exact, faster replacements for kinesalite's sequence-number helpers,
    // shard lookup and PutRecords validation, most of its CPU under load;
    // see the file for why and how each stays exact.
    require("./.streamfn-kinesalite-fast.cjs").install(require);
    // Per-shard write and read limits, as Kinesis applies them; see the
    // file. Installed before kinesalite loads its actions.
    const limits = throughput === "limits" ? require("./.streamfn-kinesis-limits.cjs") : null;
    if (limits) limits.install(require);
    const kinesalite = require("kinesalite");
    const server = kinesalite({
      createStreamMs: 0,
      deleteStreamMs: 0,
      updateStreamMs: 0,
      shardLimit: Number(shardLimit || 100),
    });
    if (limits) limits.serveStats(server);
    server.listen(0, "127.0.0.1", () => ready(server.address().port));
    break;
  }
  case "dynamodb": {
    const dynalite = require("dynalite");
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    server.listen(0, "127.0.0.1", () => ready(server.address().port));
    break;
  }
  case "sqs": {
    // fauxqs 1.9 always listens on 0.0.0.0 (its host option only names the
    // queue URLs). Nothing here may be reachable from the network: the
    // poison queue holds payloads. This process serves fauxqs alone, so
    // every listen on all interfaces becomes one on 127.0.0.1.
    const net = await import("node:net");
    const listen = net.Server.prototype.listen;
    net.Server.prototype.listen = function (options, ...rest) {
      if (options && typeof options === "object" && (options.host === "0.0.0.0" || options.host === "::")) {
        options = { ...options, host: "127.0.0.1" };
      }
      return listen.call(this, options, ...rest);
    };
    const { startFauxqs } = await import("fauxqs");
    const server = await startFauxqs({ port: 0, logger: false, host: "localhost" });
    ready(server.port);
    break;
  }
  default:
    process.stderr.write(`unknown emulator ${JSON.stringify(kind)}: want kinesis, dynamodb or sqs\n`);
    process.exit(2);
}
