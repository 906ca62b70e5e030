import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { PeerError } from "../../lib/errors.ts";
import { remoteArgv } from "../../lib/remote/apply.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

// remoteArgv under ssh: every remote word reaches the remote shell unquoted,
// so each one (the admin's command included) must be plain.

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.remote = { command: ["/usr/local/bin/pvemigrate-dns"] };
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

describe("remoteArgv over ssh", () => {
  it("runs the configured command with the absolute config path on the node's sshHost", () => {
    const argv = remoteArgv(config, "pve2", ["apply", "--local"]);
    expect(argv.slice(0, 1)).toEqual(["ssh"]);
    expect(argv.slice(argv.indexOf("root@10.10.0.2"))).toEqual([
      "root@10.10.0.2",
      "--",
      "/usr/local/bin/pvemigrate-dns",
      "--config",
      config.source,
      "apply",
      "--local",
    ]);
  });

  it("refuses a remote.command word the shell would interpret, even when the config check was bypassed", () => {
    const bad = { ...config, remote: { ...config.remote, command: ["pvemigrate-dns", "$(reboot)"] } };
    expect(() => remoteArgv(bad, "pve2", ["apply"])).toThrow(PeerError);
    expect(() => remoteArgv(bad, "pve2", ["apply"])).toThrow('"$(reboot)" cannot be passed over ssh');
  });
});
