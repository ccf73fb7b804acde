/**
 * @module
 * Which shard of a bulk campaign holds a row: a hash of its external case id,
 * so that adding or removing rows never moves another row.
 */
import { hash } from "node:crypto";

/** The shard (0-based) of `externalCaseId` among `count` shards. */
export function shardOf(externalCaseId: string, count: number): number {
  if (count <= 1) return 0;
  return hash("sha256", externalCaseId, "buffer").readUInt32BE(0) % count;
}
