import { type RunningS3Server, type S3ServerOptions, startS3Server } from "../../scripts/s3-server";

export type { RunningS3Server } from "../../scripts/s3-server";

/**
 * Starts moto's S3 server (scripts/s3-server.ts) on a free 127.0.0.1 port
 * with the state bucket created. Call `stop()` in afterAll / `finally`.
 */
export function startTestS3Server(options: S3ServerOptions = {}): Promise<RunningS3Server> {
  return startS3Server(options);
}

/** Where the diy backend keeps a stack's checkpoint in the bucket. */
export function checkpointKey(project: string, stack: string): string {
  return `.pulumi/stacks/${project}/${stack}.json`;
}

/** Where the diy backend keeps a stack's lock objects: `<prefix><uuid>.json`, one per running operation. */
export function lockPrefix(project: string, stack: string): string {
  return `.pulumi/locks/organization/${project}/${stack}/`;
}

/** Every object Pulumi wrote for a project (checkpoints, backups, history, locks), key → content. */
export async function stateObjects(s3: RunningS3Server, project: string): Promise<Map<string, string>> {
  const keys = (await s3.listKeys(".pulumi/")).filter((key) => key.split("/").includes(project));
  const objects = new Map<string, string>();
  for (const key of keys) objects.set(key, await s3.getObject(key));
  return objects;
}
