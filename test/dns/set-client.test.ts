import { describe, expect, it, vi } from "vitest";
import { assembleDnsParts } from "../../lib/dns/assemble.ts";
import { createDnsClient } from "../../lib/dns/client.ts";
import { createSetClient } from "../../lib/dns/set-client.ts";
import { clientOptions, master } from "./fixtures.ts";

// `dns set` uses a client of its own (lib/dns/set-client.ts, lean for the
// launcher's start), which must stay the same engine as createDnsClient's:
// both are put together by one function, watched here, never by copies of it.

vi.mock("../../lib/dns/assemble.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../lib/dns/assemble.ts")>();
  return { ...real, assembleDnsParts: vi.fn(real.assembleDnsParts) };
});

describe("the DNS clients' assembly", () => {
  it("createDnsClient and dns set's client are both made by assembleDnsParts, from the options given", () => {
    const key = {
      name: "k",
      algorithm: "hmac-sha256",
      secret: Buffer.alloc(32, 1).toString("base64"),
    } as const;
    const opts = clientOptions([master(53)], key);
    const assemble = vi.mocked(assembleDnsParts);
    const full = createDnsClient(opts);
    expect(assemble).toHaveBeenCalledTimes(1);
    expect(assemble).toHaveBeenLastCalledWith(opts);
    const lean = createSetClient(opts);
    expect(assemble).toHaveBeenCalledTimes(2);
    expect(assemble).toHaveBeenLastCalledWith(opts);
    // The set client hands out the assembled writer's own function, as the full client does.
    expect(lean.setAddresses).toBe(assemble.mock.results[1]?.value.writer.setAddresses);
    expect(full.setAddresses).toBe(assemble.mock.results[0]?.value.writer.setAddresses);
  });
});
