import { defineConfig } from "vitest/config";

// Three projects: fast unit tests (seconds, no Docker), Docker integration tests against real
// memcached / Postgres / HAProxy / Toxiproxy containers (`npm test` runs these two), and a real
// third-party application under the harness (MediaWiki, `npm run test:real`: not in CI).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "docker",
          include: ["test/docker/**/*.test.ts"],
          // One topology at a time: this is a 2-core machine and the tests measure timing.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: "real",
          include: ["test/real/**/*.test.ts"],
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          // one run: the image build (about 40 s cold), MediaWiki's install (~8 s) and a minute of load
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
