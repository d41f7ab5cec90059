// Starts one local AWS stand-in on 127.0.0.1 (fauxqs: all interfaces, it
// allows nothing else) on a port the OS picks, and prints {"port":N} once it
// listens. internal/emulators runs this; it is not meant to be run by hand.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [kind, shardLimit] = process.argv.slice(2);

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
    const kinesalite = require("kinesalite");
    const server = kinesalite({
      createStreamMs: 0,
      deleteStreamMs: 0,
      updateStreamMs: 0,
      shardLimit: Number(shardLimit || 100),
    });
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
    const { startFauxqs } = await import("fauxqs");
    const server = await startFauxqs({ port: 0, logger: false, host: "localhost" });
    ready(server.port);
    break;
  }
  default:
    process.stderr.write(`unknown emulator ${JSON.stringify(kind)}: want kinesis, dynamodb or sqs\n`);
    process.exit(2);
}
