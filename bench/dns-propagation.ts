import { Secret } from "../lib/config/secret.ts";
import type { DnsConfig } from "../lib/config/types.ts";
import { createDnsClient } from "../lib/dns/client.ts";
import { BENCH_ZONE, startBenchMaster } from "./dns-common.ts";

// Benchmark (not a test): time from a switch to "every master and name
// server answers the new address", on a BIND primary with a secondary that
// follows it by NOTIFY (IXFR). Ours: `setAddresses` (compare-and-swap, the
// primary first) then `awaitPropagation`; baseline: a plain `nsupdate -y` to
// the primary, then the same read-back loop as the measuring instrument. Both
// in the same run; the ratio is ours/nsupdate. Everything on 127.0.0.1; the
// daemons and temp dirs are removed at the end.
// Run: node --import tsx bench/dns-propagation.ts   (needs named, nsupdate)

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 10);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const master = await startBenchMaster("prop", { secondary: true });
  const { key, primary } = master;
  const secondary = master.secondary;
  if (!secondary) throw new Error("the bench master started no secondary");
  try {
    const dns: DnsConfig = {
      zone: BENCH_ZONE,
      // The secondary is a candidate too (it forwards updates); the primary is learned from the SOA MNAME.
      masters: [
        { host: "127.0.0.1", port: secondary.port },
        { host: "127.0.0.1", port: primary.port },
      ],
      tsig: { name: key.name, algorithm: key.algorithm, secretFile: master.tsigFile },
      ttl: 60,
      timeoutMs: 700,
      totalTimeoutMs: 10_000,
      ownerId: "pvemigrate-dns",
      deleteOnStop: false,
      moveTtl: 30,
      propagation: { nameServers: false, allow: [], port: 53, servers: [], waitSeconds: 30 },
    };
    const client = createDnsClient({ dns, tsigSecret: new Secret(key.secret, master.tsigFile) });
    const agreedAfter = async (name: string, address: string, start: number) => {
      const r = await client.awaitPropagation([{ name, expected: { a: [address], aaaa: [] } }]);
      if (!r.agreed)
        throw new Error(`${name}: not agreed after ${r.elapsedMs} ms: ${JSON.stringify(r.lagging)}`);
      return performance.now() - start;
    };

    const ours: number[] = [];
    const theirs: number[] = [];
    const returned: number[] = [];
    let laggingOnReturn = 0;
    let current = "none";
    for (let i = 0; i < ITERATIONS; i++) {
      const address = `192.0.2.${(i % 200) + 1}`;
      let start = performance.now();
      await client.setAddresses([
        {
          name: "prop.example.org",
          a: [address],
          aaaa: [],
          expect: current === "none" ? { a: [], aaaa: [] } : { a: [current], aaaa: [] },
        },
      ]);
      current = address;
      ours.push(await agreedAfter("prop.example.org", address, start));

      start = performance.now();
      const r = await master.nsupdate(primary.port, "prop-ns.example.org", address);
      if (r.code !== 0) throw new Error(`nsupdate failed: ${r.stderr}`);
      returned.push(performance.now() - start);
      // What nsupdate's caller knows when it returns: is the secondary there yet?
      const now = await client.checkPropagation([
        { name: "prop-ns.example.org", expected: { a: [address], aaaa: [] } },
      ]);
      if (!now.agreed) laggingOnReturn++;
      theirs.push(await agreedAfter("prop-ns.example.org", address, start));
    }
    const o = median(ours);
    const t = median(theirs);
    console.log(`switch until the primary and its NOTIFYed secondary both answer (median of ${ITERATIONS}):`);
    console.log(
      `  ours set+read-back ${o.toFixed(0)} ms | nsupdate to the primary + the same read-back ${t.toFixed(0)} ms | ratio ours/nsupdate ${(o / t).toFixed(2)}`,
    );
    console.log(
      `  nsupdate alone returns after ${median(returned).toFixed(0)} ms (its process start included) and says nothing about the secondary: it still lagged at that moment in ${laggingOnReturn} of ${ITERATIONS} runs`,
    );
  } finally {
    await master.close();
  }
}

await main();
