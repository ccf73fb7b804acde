import { parseServerArgs, SERVER_USAGE } from "./args";
import { startKlarefiServer } from "./server";

/**
 * Runs the local Klarefi server in the foreground until SIGINT/SIGTERM:
 * `node dist/server/main.js --port 4010`. Prints where it listens, never the keys.
 */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`Usage: node dist/server/main.js [options]\n\n${SERVER_USAGE}\n`);
    return 0;
  }
  let options;
  try {
    options = parseServerArgs(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const server = await startKlarefiServer(options);
  process.stdout.write(`Klarefi local server listening on ${server.url} (database ${server.dbPath})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close();
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
