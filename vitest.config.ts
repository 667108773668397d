import { defineConfig } from "vitest/config";

// Two projects: fast unit tests (seconds, no Docker) and Docker integration tests against real
// memcached / Postgres / HAProxy / Toxiproxy containers. `npm test` runs both.
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
    ],
  },
});
