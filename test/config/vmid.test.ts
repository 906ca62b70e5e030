import { describe, expect, it } from "vitest";
import { isVmidText } from "../../lib/config/values.ts";

// The one VM id rule shared by config keys, the hook's argument and the CLI's
// VMID argument: pve-common PVE/JSONSchema.pm pve_verify_vmid.
describe("isVmidText (pve_verify_vmid)", () => {
  it.each([
    ["100", true],
    ["999999999", true],
    ["99", false],
    ["0100", false],
    ["1000000000", false],
    ["100 ", false],
    ["1e3", false],
    ["", false],
  ])("%j -> %s", (text, expected) => {
    expect(isVmidText(text)).toBe(expected);
  });
});
