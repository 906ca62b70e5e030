import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real daemons (named, knotd, haproxy) and network
    // namespaces; two workers match CI's two cores without starving them.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
