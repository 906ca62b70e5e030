import { describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors.ts";
import { renderHaproxyConfig } from "../../lib/proxy/haproxy-config.ts";
import { renderNginxConfig } from "../../lib/proxy/nginx.ts";

// The proxies listen on both families: a node with a public IPv6 publishes
// AAAA records for its VMs' names, so :443 and :80 must answer there too.

const opts = {
  socket: "/run/haproxy/admin.sock",
  mapDir: "/etc/haproxy/pvemigrate",
  httpsPort: 443,
  httpPort: 80,
  proxyProtocol: false,
};

describe("binding both address families", () => {
  it("HAProxy binds IPv4 and IPv6 (v6only) on both frontends by default", () => {
    const cfg = renderHaproxyConfig(opts);
    expect(cfg.match(/^\tbind .*$/gm)).toEqual([
      "\tbind :443",
      "\tbind :::443 v6only",
      "\tbind :80",
      "\tbind :::80 v6only",
    ]);
  });

  it("HAProxy takes a given IPv6 bind address, or none at all on a host without IPv6", () => {
    expect(renderHaproxyConfig({ ...opts, bindAddress6: "2001:DB8::10" })).toContain(
      "\tbind 2001:db8::10:443 v6only",
    );
    expect(renderHaproxyConfig({ ...opts, ipv6: false })).not.toMatch(/v6only/);
    expect(() => renderHaproxyConfig({ ...opts, bindAddress6: "::1 v4v6" })).toThrow(InputError);
  });

  it("nginx listens on [::] next to the IPv4 port, unless told not to", () => {
    const { stream, http } = renderNginxConfig({ ...opts, mapDir: "/etc/nginx/pvemigrate" });
    expect(stream).toContain("\tlisten 443;\n\tlisten [::]:443;\n");
    expect(http).toContain("\tlisten 80;\n\tlisten [::]:80;\n");
    expect(renderNginxConfig({ ...opts, mapDir: "/etc/nginx/x", ipv6: false }).stream).not.toContain("[::]");
  });
});
