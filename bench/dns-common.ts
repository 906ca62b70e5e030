import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../lib/process/run.ts";
import {
  type DnsDaemon,
  freePort,
  generateTsigKey,
  startNamedPrimary,
  startNamedSecondary,
  type TsigKeyFixture,
} from "../test/support/named.ts";

// The DNS master the DNS benchmarks (dns.ts, dns-propagation.ts) measure
// against, set up once here so both measure the same thing: a fresh TSIG key
// from tsig-keygen, a BIND primary for example.org on 127.0.0.1 that grants
// the key the whole zone (optionally with a secondary it NOTIFYs, which
// forwards updates), the key's secret in a 0600 file in a temp dir of the
// benchmark's own, and the baseline: the same update by `nsupdate -y`.
// close() stops the daemons and removes every file (issue 16: benchmarks
// leave nothing behind).

export const BENCH_ZONE = "example.org";

export interface BenchMaster {
  key: TsigKeyFixture;
  primary: DnsDaemon;
  secondary?: DnsDaemon;
  /** The benchmark's temp dir (configs, builds, caches go here; removed by close()). */
  dir: string;
  /** The TSIG secret file, mode 0600, in `dir`. */
  tsigFile: string;
  /** The script `nsupdate` reads for "name holds exactly this A record" at 127.0.0.1:port. */
  nsupdateScript(port: number, name: string, address: string): string;
  /** `nsupdate -y` argv with the bench key. */
  nsupdateArgv(): string[];
  /** Runs nsupdate with that script; its exit code and output. */
  nsupdate(
    port: number,
    name: string,
    address: string,
    opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): ReturnType<typeof run>;
  close(): Promise<void>;
}

export async function startBenchMaster(
  prefix: string,
  opts: { secondary?: boolean } = {},
): Promise<BenchMaster> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-bench-${prefix}-${process.pid}-`));
  const key = await generateTsigKey("bench-key");
  const secondaryPort = opts.secondary ? await freePort() : undefined;
  const primary = await startNamedPrimary({
    zone: BENCH_ZONE,
    keys: [key],
    ...(secondaryPort !== undefined ? { notifyPorts: [secondaryPort] } : {}),
  });
  const secondary =
    secondaryPort !== undefined
      ? await startNamedSecondary({
          zone: BENCH_ZONE,
          primaryPort: primary.port,
          keys: [key],
          port: secondaryPort,
        })
      : undefined;
  const tsigFile = join(dir, "tsig");
  await writeFile(tsigFile, `${key.secret}\n`, { mode: 0o600 });
  await chmod(tsigFile, 0o600);
  const nsupdateScript = (port: number, name: string, address: string) =>
    `server 127.0.0.1 ${port}\nzone ${BENCH_ZONE}\nupdate delete ${name} A\nupdate add ${name} 60 A ${address}\nsend\n`;
  const nsupdateArgv = () => ["nsupdate", "-y", `${key.algorithm}:${key.name}:${key.secret}`];
  return {
    key,
    primary,
    ...(secondary ? { secondary } : {}),
    dir,
    tsigFile,
    nsupdateScript,
    nsupdateArgv,
    nsupdate: (port, name, address, o = {}) =>
      run(nsupdateArgv(), {
        input: nsupdateScript(port, name, address),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
        ...(o.env ? { env: o.env } : {}),
      }),
    async close() {
      await Promise.allSettled([secondary?.stop(), primary.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
