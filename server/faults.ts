/**
 * @module
 * Seeded fault injection for the `/api/v1` routes of the local server.
 *
 * Each authenticated `/api/v1` request draws exactly two numbers from a
 * mulberry32 generator: the first picks an injected status (429, 500, 503 or
 * none), the second decides a commit-then-drop. Because the number of draws
 * per request is fixed, the same seed and the same request order give the
 * same faults, run after run.
 */
import { randomInt } from "node:crypto";
import { z } from "zod";

const rate = (name: string) =>
  z
    .number({ error: `${name} must be a number between 0 and 1` })
    .min(0, { error: `${name} must be between 0 and 1` })
    .max(1, { error: `${name} must be between 0 and 1` });

/** The fault settings: rates are probabilities in [0, 1] per request. */
export const FaultConfig = z
  .strictObject({
    /** Seed of the generator; omitted means a random seed (reported back by `GET /_admin/faults`). */
    seed: z
      .int({ error: "seed must be an integer" })
      .min(0, { error: "seed must be between 0 and 4294967295" })
      .max(0xffffffff, { error: "seed must be between 0 and 4294967295" })
      .optional(),
    /** Share of requests answered 429 `rate_limited`. */
    rate429: rate("rate429").optional(),
    /** Share of requests answered 500 `internal_error`. */
    rate500: rate("rate500").optional(),
    /** Share of requests answered 503 `service_unavailable`. */
    rate503: rate("rate503").optional(),
    /** Delay added to every request that is not refused by an injected status. */
    latencyMs: z
      .int({ error: "latencyMs must be an integer" })
      .min(0, { error: "latencyMs must be between 0 and 60000" })
      .max(60_000, { error: "latencyMs must be between 0 and 60000" })
      .optional(),
    /** Share of successful creates and revokes whose connection is destroyed after the commit. */
    commitThenDrop: rate("commitThenDrop").optional(),
    /** `Retry-After` of injected 429 and 503 answers; 1 when omitted. */
    retryAfterSeconds: z
      .int({ error: "retryAfterSeconds must be an integer" })
      .min(0, { error: "retryAfterSeconds must be between 0 and 3600" })
      .max(3600, { error: "retryAfterSeconds must be between 0 and 3600" })
      .optional(),
  })
  .refine((f) => (f.rate429 ?? 0) + (f.rate500 ?? 0) + (f.rate503 ?? 0) <= 1 + 1e-9, {
    error: (issue) => {
      const f = issue.input as { rate429?: number; rate500?: number; rate503?: number };
      const sum = (f.rate429 ?? 0) + (f.rate500 ?? 0) + (f.rate503 ?? 0);
      return `rate429 + rate500 + rate503 must be at most 1; got ${sum}.`;
    },
  });
export type FaultConfig = z.infer<typeof FaultConfig>;

/** A fault configuration with every field filled in, as the server runs it. */
export type ResolvedFaultConfig = Required<FaultConfig>;

/** What the injector decided for one request. */
export interface FaultDecision {
  /** Status to answer with instead of handling the request, or null. */
  status: 429 | 500 | 503 | null;
  /** Delay before the request's work (after the idempotency reservation on creates). */
  latencyMs: number;
  /** Destroy the connection after committing instead of answering. */
  dropAfterCommit: boolean;
  retryAfterSeconds: number;
}

/** Fills the defaults in (no faults, no latency, `Retry-After: 1`); a missing seed becomes a random one. */
export function resolveFaultConfig(config: FaultConfig = {}, randomSeed: () => number = defaultSeed): ResolvedFaultConfig {
  return {
    seed: config.seed ?? randomSeed(),
    rate429: config.rate429 ?? 0,
    rate500: config.rate500 ?? 0,
    rate503: config.rate503 ?? 0,
    latencyMs: config.latencyMs ?? 0,
    commitThenDrop: config.commitThenDrop ?? 0,
    retryAfterSeconds: config.retryAfterSeconds ?? 1,
  };
}

function defaultSeed(): number {
  return randomInt(0, 0x1_0000_0000);
}

/**
 * mulberry32: a tiny 32-bit seeded generator, good enough to spread faults
 * evenly and cheap enough to run per request. Answers numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The decision for one request, from two uniform draws. Pure, so it can be
 * table-tested: `statusDraw` falls into [0, rate429) for 429, the next
 * `rate500` for 500, the next `rate503` for 503; `dropDraw < commitThenDrop`
 * drops, but only where `droppable` (creates and revokes).
 */
export function decideFault(
  config: ResolvedFaultConfig,
  statusDraw: number,
  dropDraw: number,
  droppable: boolean,
): FaultDecision {
  let status: FaultDecision["status"] = null;
  if (statusDraw < config.rate429) status = 429;
  else if (statusDraw < config.rate429 + config.rate500) status = 500;
  else if (statusDraw < config.rate429 + config.rate500 + config.rate503) status = 503;
  return {
    status,
    latencyMs: status === null ? config.latencyMs : 0,
    dropAfterCommit: status === null && droppable && dropDraw < config.commitThenDrop,
    retryAfterSeconds: config.retryAfterSeconds,
  };
}

/** Holds the current fault configuration and its generator. */
export class FaultInjector {
  #config: ResolvedFaultConfig;
  #random: () => number;

  constructor(config: FaultConfig = {}) {
    this.#config = resolveFaultConfig(FaultConfig.parse(config));
    this.#random = mulberry32(this.#config.seed);
  }

  /** The configuration in force, with the seed it runs on. */
  get config(): ResolvedFaultConfig {
    return { ...this.#config };
  }

  /** Replaces the whole configuration and restarts the generator from its seed. */
  configure(config: FaultConfig): ResolvedFaultConfig {
    this.#config = resolveFaultConfig(FaultConfig.parse(config));
    this.#random = mulberry32(this.#config.seed);
    return this.config;
  }

  /** Back to no faults at all. */
  clear(): ResolvedFaultConfig {
    return this.configure({});
  }

  /** Draws the decision for the next request. */
  next(droppable: boolean): FaultDecision {
    const statusDraw = this.#random();
    const dropDraw = this.#random();
    return decideFault(this.#config, statusDraw, dropDraw, droppable);
  }
}
