import { describe, expect, it } from "vitest";
import { masterLabel, parseMaster } from "../../lib/config/values.ts";

// One label for a master, in errors, doctor, migrate's summary and `config
// show`: the text parseMaster reads back to the same master.
describe("masterLabel", () => {
  it.each([
    ["192.0.2.53", { host: "192.0.2.53", port: 53 }, "192.0.2.53:53"],
    ["ns1.example.net:5353", { host: "ns1.example.net", port: 5353 }, "ns1.example.net:5353"],
    ["2001:db8::53", { host: "2001:db8::53", port: 53 }, "[2001:db8::53]:53"],
    ["[2001:db8::53]:5353", { host: "2001:db8::53", port: 5353 }, "[2001:db8::53]:5353"],
  ])("%s reads back as the same master", (text, master, label) => {
    expect(parseMaster(text)).toEqual({ ok: true, value: master });
    expect(masterLabel(master)).toBe(label);
    expect(parseMaster(masterLabel(master))).toEqual({ ok: true, value: master });
  });
});
