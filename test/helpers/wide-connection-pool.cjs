"use strict";
/**
 * @module
 * Preloaded with `NODE_OPTIONS=--require <this file>` into the processes a
 * `pulumi` run starts (the dynamic provider among them) by the concurrency
 * tests of test/e2e/reliability.test.ts. The client's transport sizes its
 * undici pool to its concurrency cap, so a pool alone would keep the server's
 * peak at the cap even without the cap's semaphore; here every undici `Agent`
 * gets 64 connections per origin instead, and only the semaphore can hold the
 * provider to its cap.
 *
 * Each Agent made is logged as one JSON line (`{"pid","asked","given"}`) to
 * the file named by KLAREFI_TEST_POOL_LOG, so the test can check the wide
 * pool really reached the provider.
 */
const { appendFileSync } = require("node:fs");
const undici = require("undici");

const WIDE = 64;
const NarrowAgent = undici.Agent;

class WideAgent extends NarrowAgent {
  constructor(options = {}) {
    super({ ...options, connections: WIDE });
    const log = process.env.KLAREFI_TEST_POOL_LOG;
    if (log) appendFileSync(log, `${JSON.stringify({ pid: process.pid, asked: options.connections ?? null, given: WIDE })}\n`);
  }
}

undici.Agent = WideAgent;
