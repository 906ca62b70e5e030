import { readFileSync, statSync } from "node:fs";
import { Secret } from "./secret.ts";
import type { Config, Problem } from "./types.ts";

// Secrets live in files referenced by path. Under /etc/pve/priv pmxcfs itself
// enforces root-only access (and has no chmod), so modes are checked only
// elsewhere. Errors name the file, never its content. Read synchronously: two
// small files, and the CLI's `dns set` fast path (bin/dns-set-fast.ts) then
// starts neither libuv's thread pool nor node:fs/promises (issue 16, floor 2).

export interface Secrets {
  token: Secret;
  tsig: Secret;
}

function underPmxcfsPriv(file: string, pveRoot: string): boolean {
  return file.startsWith("/etc/pve/priv/") || file.startsWith(`${pveRoot.replace(/\/$/, "")}/priv/`);
}

function readSecret(file: string, field: string, pveRoot: string, problems: Problem[]): Secret | undefined {
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      problems.push({ path: field, message: `${file} is not a regular file` });
      return undefined;
    }
    if (!underPmxcfsPriv(file, pveRoot) && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
      problems.push({
        path: field,
        message: `${file} is readable by group/others (mode ${mode}): chmod 600 it`,
      });
      return undefined;
    }
    const value = readFileSync(file, "utf8").trim();
    if (value === "") {
      problems.push({ path: field, message: `${file} is empty` });
      return undefined;
    }
    return new Secret(value, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES"
          ? "is not readable"
          : `cannot be read (${code})`;
    problems.push({ path: field, message: `${file} ${why}` });
    return undefined;
  }
}

/**
 * A TSIG secret file may hold the bare base64 secret or a BIND key clause as
 * written by tsig-keygen (`key "name" { algorithm ...; secret "..."; };`).
 */
export function tsigSecretValue(content: string): string {
  const m = /secret\s+"([^"]+)"/.exec(content);
  return (m ? m[1]! : content).trim();
}

export async function loadSecrets(config: Config): Promise<{ secrets?: Secrets; problems: Problem[] }> {
  return loadSecretsSync(config);
}

export function loadSecretsSync(config: Config): { secrets?: Secrets; problems: Problem[] } {
  const problems: Problem[] = [];
  const token = readSecret(
    config.proxmox.tokenSecretFile,
    "proxmox.tokenSecretFile",
    config.pveRoot,
    problems,
  );
  const tsigRaw = readSecret(config.dns.tsig.secretFile, "dns.tsig.secretFile", config.pveRoot, problems);
  let tsig: Secret | undefined;
  if (tsigRaw) {
    const value = tsigSecretValue(tsigRaw.reveal());
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) {
      problems.push({
        path: "dns.tsig.secretFile",
        message: `${config.dns.tsig.secretFile} does not hold a base64 TSIG secret (or a tsig-keygen key clause)`,
      });
    } else {
      tsig = new Secret(value, tsigRaw.file);
    }
  }
  if (!token || !tsig) return { problems };
  return { secrets: { token, tsig }, problems };
}
