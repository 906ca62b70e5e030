import { DEFAULT_CONFIG_PATH } from "./types.ts";

/** --config wins, then PVEMIGRATE_DNS_CONFIG, then the pmxcfs default. */
export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.PVEMIGRATE_DNS_CONFIG || DEFAULT_CONFIG_PATH;
}
