/**
 * @module
 * An S3-compatible server on 127.0.0.1 to keep Pulumi state in a bucket, as a
 * team does with `pulumi login s3://…`: moto's server, installed by
 * `scripts/setup.sh --with s3` (part of `--for test`) into a cached virtual environment. The S3
 * backend tests and `npm run bench -- --backend s3` start one per run.
 *
 * Besides starting and stopping the server, this module builds the
 * `PULUMI_BACKEND_URL` for it and reads the bucket back with plain HTTP
 * requests, so a test can look at the objects Pulumi wrote: checkpoints,
 * history, locks. moto does not verify request signatures (its default), but
 * it refuses anonymous reads of objects: the requests name the local
 * credentials in an `Authorization` header with a placeholder signature.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fetch } from "undici";

/** Bucket the state goes to unless told otherwise. */
export const DEFAULT_STATE_BUCKET = "klarefi-state";

/** Region in the backend URL. moto accepts any; the AWS SDK needs one to sign. */
export const S3_REGION = "us-east-1";

/**
 * Credentials for the local server. moto accepts any; the AWS SDK refuses to
 * sign without some. Never real ones: this server is on loopback only.
 */
export const LOCAL_AWS_CREDENTIALS = { AWS_ACCESS_KEY_ID: "klarefi-local", AWS_SECRET_ACCESS_KEY: "klarefi-local" } as const;

/**
 * The `PULUMI_BACKEND_URL` of a bucket on an S3-compatible store at `endpoint`,
 * with the query parameters the Pulumi CLI (3.276, gocloud.dev's s3blob on
 * AWS SDK v2) understands:
 *
 * - `endpoint`: the store's base URL with its scheme (`http://` for a local
 *   store; an endpoint without a scheme is taken as `https://`);
 * - `use_path_style=true`: `http://host/bucket/key` instead of
 *   `http://bucket.host/key`, which needs DNS for every bucket (the older
 *   spelling `s3ForcePathStyle=true` is still accepted);
 * - `region`: any region for a local store; the SDK needs one to sign;
 * - `response_checksum_validation=when_required`: a store that does not send
 *   checksums back is not reported on every read ("WARN Response has no
 *   supported checksum"). The CLI itself already sends checksums only when
 *   required when an `endpoint` is set.
 *
 * Unknown parameters are refused by the CLI (`unknown query parameter`);
 * `disableSSL` (AWS SDK v1) is translated by the CLI, and not needed when the
 * endpoint says `http://`.
 */
export function s3BackendUrl(options: { endpoint: string; bucket?: string; region?: string }): string {
  const bucket = options.bucket ?? DEFAULT_STATE_BUCKET;
  const region = options.region ?? S3_REGION;
  return `s3://${bucket}?endpoint=${options.endpoint}&use_path_style=true&region=${region}&response_checksum_validation=when_required`;
}

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** Bucket created once the server answers (default {@link DEFAULT_STATE_BUCKET}). */
  bucket?: string;
  /** Loopback port; default: a free one. */
  port?: number;
  /** The `moto_server` executable; default `KLAREFI_MOTO_SERVER`, else the one setup.sh installed. */
  command?: string;
  /** How long the server may take to answer before start fails (default 30 s). */
  startTimeoutMs?: number;
}

/** A running S3-compatible server with one bucket. */
export interface RunningS3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  pid: number;
  bucket: string;
  /** The `PULUMI_BACKEND_URL` of the bucket (see {@link s3BackendUrl}). */
  backendUrl: string;
  /**
   * What a `pulumi` process needs to use the bucket: `PULUMI_BACKEND_URL` and
   * dummy AWS credentials. Spread it over the offline environment of
   * scripts/pulumi-env.ts, which it overrides.
   */
  env: Record<string, string>;
  /** Keys in the bucket under `prefix`, sorted. */
  listKeys(prefix?: string): Promise<string[]>;
  /** An object's content as text. */
  getObject(key: string): Promise<string>;
  /** Deletes one object (S3 answers 204 whether or not it existed). */
  deleteObject(key: string): Promise<void>;
  /** The server's last lines of output, for error messages. */
  recentOutput(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); its data is gone. */
  stop(): Promise<void>;
}

/** Thrown when the S3 server is not installed or does not come up. */
export class S3ServerError extends Error {
  override name = "S3ServerError";
}

/** The repository root, from source (`scripts/`) or from the build (`dist/scripts/`). */
function repositoryRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, "scripts", "setup.sh"))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, "..");
}

/** Where setup.sh links moto's server: node_modules/.klarefi-pulumi/s3-server/bin/moto_server. */
export function installedMotoServer(): string {
  return path.join(repositoryRoot(), "node_modules", ".klarefi-pulumi", "s3-server", "bin", "moto_server");
}

/** A loopback port nothing listens on right now. */
async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", resolve);
  });
  const address = probe.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * What the bucket requests carry: an AWS signature header naming the local
 * access key, with a placeholder signature that moto does not check.
 */
const LOCAL_AUTHORIZATION = {
  authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_AWS_CREDENTIALS.AWS_ACCESS_KEY_ID}/20260101/${S3_REGION}/s3/aws4_request, SignedHeaders=host, Signature=0`,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const XML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };

/** The text of an XML element as S3 lists it (keys hold no markup, only these five entities). */
function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, name: string) => XML_ENTITIES[name] ?? "");
}

/** Stops a child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref());
  if ((await Promise.race([exited, timer])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

async function startOnce(command: string, port: number, bucket: string, startTimeoutMs: number): Promise<RunningS3Server> {
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(command, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  // moto logs a line per request: keep the tail for error messages and keep the pipes drained.
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter((l) => l.trim() !== ""));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  const recentOutput = () => lines.join("\n");
  const gone = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;

  try {
    const deadline = Date.now() + startTimeoutMs;
    let ready = false;
    for (let attempt = 0; attempt < 1_000 && Date.now() < deadline && !gone(); attempt++) {
      try {
        const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        ready = res.ok;
        if (ready) break;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    if (!ready) {
      const why = spawnError ? `could not start: ${spawnError.message}` : gone() ? `exited (code ${child.exitCode ?? child.signalCode})` : `did not answer within ${startTimeoutMs} ms`;
      throw new S3ServerError(`moto's S3 server on port ${port} ${why}.${lines.length > 0 ? ` Its output:\n${recentOutput()}` : ""}`);
    }
    const created = await fetch(`${endpoint}/${bucket}`, { method: "PUT", headers: LOCAL_AUTHORIZATION, signal: AbortSignal.timeout(10_000) });
    await created.arrayBuffer();
    if (!created.ok) throw new S3ServerError(`Creating bucket ${bucket} on ${endpoint} answered ${created.status}.`);
  } catch (error) {
    await stopChild(child);
    throw error;
  }

  const backendUrl = s3BackendUrl({ endpoint, bucket });
  const objectUrl = (key: string) => `${endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  return {
    endpoint,
    port,
    pid: child.pid ?? 0,
    bucket,
    backendUrl,
    env: { PULUMI_BACKEND_URL: backendUrl, ...LOCAL_AWS_CREDENTIALS },
    async listKeys(prefix = "") {
      const keys: string[] = [];
      let token: string | undefined;
      // ListObjectsV2 pages of 1,000 keys; 100 pages is far beyond any test or bench bucket.
      for (let page = 0; page < 100; page++) {
        const query = new URLSearchParams({ "list-type": "2", prefix, ...(token === undefined ? {} : { "continuation-token": token }) });
        const res = await fetch(`${endpoint}/${bucket}?${query.toString()}`, { headers: LOCAL_AUTHORIZATION, signal: AbortSignal.timeout(10_000) });
        const xml = await res.text();
        if (!res.ok) throw new S3ServerError(`Listing ${bucket}/${prefix} answered ${res.status}: ${xml.slice(0, 300)}`);
        for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(decodeXml(m[1] ?? ""));
        token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? decodeXml(/<NextContinuationToken>([^<]*)</.exec(xml)?.[1] ?? "") : undefined;
        if (token === undefined || token === "") break;
      }
      return keys.sort();
    },
    async getObject(key) {
      const res = await fetch(objectUrl(key), { headers: LOCAL_AUTHORIZATION, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      if (!res.ok) throw new S3ServerError(`Reading ${bucket}/${key} answered ${res.status}.`);
      return text;
    },
    async deleteObject(key) {
      const res = await fetch(objectUrl(key), { method: "DELETE", headers: LOCAL_AUTHORIZATION, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (!res.ok) throw new S3ServerError(`Deleting ${bucket}/${key} answered ${res.status}.`);
    },
    recentOutput,
    stop: () => stopChild(child),
  };
}

/**
 * Starts moto's S3 server on a free 127.0.0.1 port, creates the bucket and
 * resolves once both answer. The caller must `stop()` it (in a `finally`).
 * A port taken between the probe and the server's bind is retried on another
 * port, three tries in all.
 *
 * @example
 * ```ts
 * const s3 = await startS3Server();
 * try {
 *   const envVars = { ...offlinePulumiEnv({ backendDir, pulumiHome, passphrase }), ...s3.env };
 *   // LocalWorkspace.createStack(..., { envVars, projectSettings: { ..., backend: { url: s3.backendUrl } } })
 * } finally {
 *   await s3.stop();
 * }
 * ```
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<RunningS3Server> {
  const command = options.command ?? process.env.KLAREFI_MOTO_SERVER ?? installedMotoServer();
  if (!existsSync(command)) {
    throw new S3ServerError(
      `moto's S3 server is not installed (${command} is missing). Run 'bash scripts/setup.sh --with s3' (npm test does it; it installs moto from PyPI with python3 3.10+), or set KLAREFI_MOTO_SERVER to a moto_server executable.`,
    );
  }
  const bucket = options.bucket ?? DEFAULT_STATE_BUCKET;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    try {
      return await startOnce(command, port, bucket, startTimeoutMs);
    } catch (error) {
      lastError = error;
      const portTaken = error instanceof S3ServerError && /address already in use/i.test(error.message);
      if (!portTaken || options.port !== undefined) break;
    }
  }
  throw lastError;
}
