import { describe, expect, it } from "vitest";
import {
  checkHostName,
  checkInterfaceName,
  checkIPv4,
  checkIPv4Cidr,
  checkNftName,
  checkPath,
  checkPort,
} from "../../lib/backend/validate.ts";
import { InputError } from "../../lib/errors.ts";

describe("validation shared by the node backends", () => {
  it("accepts ordinary values", () => {
    expect(checkInterfaceName("f", "eno1")).toBe("eno1");
    expect(checkInterfaceName("f", "vmbr0.100")).toBe("vmbr0.100");
    expect(checkPort("f", 65535)).toBe(65535);
    expect(checkIPv4("f", "10.10.1.101")).toBe("10.10.1.101");
    expect(checkIPv4Cidr("f", "10.10.0.0/16")).toBe("10.10.0.0/16");
    expect(checkIPv4Cidr("f", "0.0.0.0/0")).toBe("0.0.0.0/0");
    expect(checkHostName("f", "webmail.example.org")).toBe("webmail.example.org");
    expect(checkHostName("f", "xn--bcher-kva.example")).toBe("xn--bcher-kva.example");
    expect(checkNftName("f", "pvemigrate")).toBe("pvemigrate");
    expect(checkPath("f", "/run/haproxy/admin.sock")).toBe("/run/haproxy/admin.sock");
  });

  it.each([
    ["interface", () => checkInterfaceName("nodes.publicInterface", "eno1; flush ruleset")],
    ["interface newline", () => checkInterfaceName("nodes.publicInterface", "eno1\nflush")],
    ["interface quote", () => checkInterfaceName("nodes.publicInterface", 'eno1"')],
    ["interface slash", () => checkInterfaceName("nodes.publicInterface", "a/b")],
    ["interface colon", () => checkInterfaceName("nodes.publicInterface", "eno1:0")],
    ["interface too long", () => checkInterfaceName("nodes.publicInterface", "abcdefghijklmnop")],
    ["interface empty", () => checkInterfaceName("nodes.publicInterface", "")],
    ["port 0", () => checkPort("p", 0)],
    ["port too big", () => checkPort("p", 65536)],
    ["port fraction", () => checkPort("p", 22.5)],
    ["port string", () => checkPort("p", "22")],
    ["ipv4 octet", () => checkIPv4("t", "10.10.1.256")],
    ["ipv4 leading zero", () => checkIPv4("t", "10.010.1.1")],
    ["ipv4 suffix", () => checkIPv4("t", "10.10.1.1 ; x")],
    ["ipv4 v6", () => checkIPv4("t", "::1")],
    ["cidr host bits", () => checkIPv4Cidr("n", "10.10.1.0/16")],
    ["cidr no length", () => checkIPv4Cidr("n", "10.10.0.0")],
    ["cidr too long", () => checkIPv4Cidr("n", "10.10.0.0/33")],
    ["name with ;", () => checkHostName("routes[0].name", "a.example; reload")],
    ["name with newline", () => checkHostName("routes[0].name", "a.example\nb")],
    ["name with space", () => checkHostName("routes[0].name", "a example")],
    ["name upper case", () => checkHostName("routes[0].name", "A.example")],
    ["name trailing dot", () => checkHostName("routes[0].name", "a.example.")],
    ["name hyphen edge", () => checkHostName("routes[0].name", "-a.example")],
    ["name underscore", () => checkHostName("routes[0].name", "a_b.example")],
    ["name too long label", () => checkHostName("routes[0].name", `${"a".repeat(64)}.example`)],
    ["nft name", () => checkNftName("nat.table", "pve migrate")],
    ["path relative", () => checkPath("proxy.socket", "admin.sock")],
    ["path space", () => checkPath("proxy.socket", "/run/a b")],
    ["path dotdot", () => checkPath("proxy.mapDir", "/etc/../tmp")],
  ])("rejects %s with an InputError naming the field, on one line", (_what, fn) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const message = (err as Error).message;
    expect(message).toMatch(/^[a-zA-Z.[\]0-9]+: /);
    expect(message).not.toContain("\n");
  });
});
