import { tmpdir } from "node:os";
import { join } from "node:path";
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
    // The hook's config cache must not land in the host's /run during tests.
    // The hook's worker logs to worker.log, which tests read, even on a host with a journal.
    env: {
      PVEMIGRATE_DNS_CACHE_DIR: join(tmpdir(), `pvemigrate-dns-cache-${process.pid}`),
      PVEMIGRATE_DNS_WORKER_LOG: "file",
    },
  },
});
