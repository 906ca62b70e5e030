import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProxmoxClient, ProxmoxApiError } from "../../lib/cluster/client.ts";
import { Secret } from "../../lib/config/secret.ts";
import { InputError } from "../../lib/errors.ts";
import { SIM_TOKEN_SECRET } from "../../lib/sim/cluster.ts";
import { proxmoxConfig, simClient } from "./helpers.ts";

// Error paths of the client against nock: it intercepts node:https, which is
// what our pinned fetch uses, so these run the real client code. Hosts are
// loopback addresses so that even a missed interceptor could not leave the machine.

const A = "https://127.0.0.1:8006";
const B = "https://127.0.0.2:8006";
const JSON_CT = { "content-type": "application/json;charset=UTF-8" };

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

/** What a connect to a port nobody listens on produces. */
function refused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
}

async function failure(p: Promise<unknown>): Promise<ProxmoxApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProxmoxApiError);
  const e = err as ProxmoxApiError;
  expect(e.message).not.toContain(SIM_TOKEN_SECRET);
  expect(e.message.split("\n")).toHaveLength(1);
  return e;
}

describe("Proxmox client error paths (nock)", () => {
  it("sends the API token header and returns data", async () => {
    const scope = nock(A, {
      reqheaders: { authorization: `PVEAPIToken=root@pam!pvemigrate=${SIM_TOKEN_SECRET}` },
    })
      .get("/api2/json/version")
      .reply(200, { data: { version: "9.0.3" } }, JSON_CT);
    await expect(simClient([A]).request("GET", "/version")).resolves.toEqual({ version: "9.0.3" });
    expect(scope.isDone()).toBe(true);
  });

  it("401 names endpoint, path and status, and not the secret", async () => {
    nock(A).get("/api2/json/cluster/status").reply(401, { data: null }, JSON_CT);
    const e = await failure(simClient([A]).request("GET", "/cluster/status"));
    expect(e.message).toContain(A);
    expect(e.message).toContain("GET /cluster/status");
    expect(e.message).toContain("401");
    expect(e.message).toContain("/tmp/pvemigrate-test.token");
    expect(e.status).toBe(401);
  });

  it("403 carries Proxmox's message from the status line and is not retried elsewhere", async () => {
    nock(A)
      .post("/api2/json/nodes/pve1/qemu/101/migrate")
      .reply(() => [403, JSON.stringify({ data: null }), JSON_CT]);
    const scopeB = nock(B)
      .post("/api2/json/nodes/pve1/qemu/101/migrate")
      .reply(200, { data: "UPID:x" }, JSON_CT);
    const client = simClient([A, B]);
    const e = await failure(client.request("POST", "/nodes/pve1/qemu/101/migrate", { target: "pve2" }));
    expect(e.message).toContain("403");
    expect(e.status).toBe(403);
    expect(scopeB.isDone()).toBe(false);
  });

  it("500 with field errors names the fields", async () => {
    nock(A)
      .post("/api2/json/nodes/pve1/qemu/101/migrate")
      .reply(500, { data: null, errors: { target: "no such cluster node 'pve9'" } }, JSON_CT);
    const e = await failure(
      simClient([A]).request("POST", "/nodes/pve1/qemu/101/migrate", { target: "pve9" }),
    );
    expect(e.message).toContain("500");
    expect(e.message).toContain("target: no such cluster node 'pve9'");
  });

  it("a wrong content type is a clear error", async () => {
    nock(A)
      .get("/api2/json/cluster/status")
      .reply(200, "<html>login</html>", { "content-type": "text/html" });
    const e = await failure(simClient([A]).request("GET", "/cluster/status"));
    expect(e.message).toContain('unexpected content type "text/html"');
  });

  it("a GET that times out names the timeout", async () => {
    nock(A).get("/api2/json/cluster/status").delay(2000).reply(200, { data: [] }, JSON_CT);
    const t0 = Date.now();
    const e = await failure(simClient([A], { requestTimeoutMs: 300 }).request("GET", "/cluster/status"));
    expect(e.message).toContain("request timeout after 300 ms");
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it("a refused first endpoint falls over to the second", async () => {
    nock(A).get("/api2/json/cluster/status").replyWithError(refused());
    nock(B)
      .get("/api2/json/cluster/status")
      .reply(200, { data: [{ type: "cluster", quorate: 1 }] }, JSON_CT);
    await expect(simClient([A, B]).request("GET", "/cluster/status")).resolves.toEqual([
      { type: "cluster", quorate: 1 },
    ]);
  });

  it("a GET that times out on the first endpoint is asked of the second (GETs are idempotent)", async () => {
    nock(A)
      .get("/api2/json/cluster/status")
      .delay(2000)
      .reply(200, { data: ["late"] }, JSON_CT);
    const b = nock(B)
      .get("/api2/json/cluster/status")
      .reply(200, { data: ["from B"] }, JSON_CT);
    const client = simClient([A, B], { requestTimeoutMs: 300 });
    await expect(client.request("GET", "/cluster/status")).resolves.toEqual(["from B"]);
    expect(b.isDone()).toBe(true);
    expect(client.stats.requests).toBe(2);
  });

  it("a refused first endpoint also lets a POST go to the second (it was never sent)", async () => {
    nock(A).post("/api2/json/nodes/pve1/qemu/101/migrate").replyWithError(refused());
    const b = nock(B).post("/api2/json/nodes/pve1/qemu/101/migrate").reply(200, { data: "UPID:ok" }, JSON_CT);
    await expect(
      simClient([A, B]).request("POST", "/nodes/pve1/qemu/101/migrate", { target: "pve2" }),
    ).resolves.toBe("UPID:ok");
    expect(b.isDone()).toBe(true);
  });

  it("a POST that times out is sent once and not re-sent, neither by proxmox-api's retry nor to another endpoint", async () => {
    let postsSeen = 0;
    const a = nock(A)
      .post("/api2/json/nodes/pve1/qemu/101/migrate")
      .times(2)
      .delay(2000)
      .reply(() => {
        postsSeen++;
        return [200, JSON.stringify({ data: "UPID:a" }), JSON_CT];
      });
    const b = nock(B)
      .post("/api2/json/nodes/pve1/qemu/101/migrate")
      .reply(() => {
        postsSeen++;
        return [200, JSON.stringify({ data: "UPID:b" }), JSON_CT];
      });
    let intercepted = 0;
    const count = () => intercepted++;
    nock.emitter.on("no match", count);
    a.on("request", count);
    b.on("request", count);
    const client = simClient([A, B], { requestTimeoutMs: 300 });
    const e = await failure(client.request("POST", "/nodes/pve1/qemu/101/migrate", { target: "pve2" }));
    expect(e.message).toContain("request timeout");
    await new Promise((r) => setTimeout(r, 100));
    expect(intercepted).toBe(1);
    expect(client.stats.requests).toBe(1);
    expect(b.isDone()).toBe(false);
    nock.emitter.off("no match", count);
    expect(postsSeen).toBeLessThanOrEqual(1);
  });

  it("every endpoint failing lists each one's reason", async () => {
    nock(A).get("/api2/json/cluster/status").replyWithError(refused());
    nock(B).get("/api2/json/cluster/status").reply(500, { data: null }, JSON_CT);
    const e = await failure(simClient([A, B]).request("GET", "/cluster/status"));
    expect(e.message).toContain("every endpoint failed");
    expect(e.message).toContain(`${A}: connect ECONNREFUSED`);
    expect(e.message).toContain(`${B}: 500`);
  });

  it("rejects a malformed token id or secret naming the field, never the secret", () => {
    expect(() =>
      createProxmoxClient({
        proxmox: proxmoxConfig([A], { tokenId: "root" }),
        tokenSecret: new Secret(SIM_TOKEN_SECRET, "/x"),
      }),
    ).toThrow(/proxmox\.tokenId/);
    let err: unknown;
    try {
      createProxmoxClient({
        proxmox: proxmoxConfig([A]),
        tokenSecret: new Secret("hunter2-not-a-uuid", "/etc/pve/priv/t"),
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect(String((err as Error).message)).toMatch(/proxmox\.tokenSecretFile: \/etc\/pve\/priv\/t/);
    expect(String((err as Error).message)).not.toContain("hunter2");
  });
});
