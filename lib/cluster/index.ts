// The Proxmox adapter's public surface; see each module for the why.
export { createProxmoxClient, ProxmoxApiError, type ProxmoxClient } from "./client.ts";
export { discoverIp, discoverIp6, IpDiscoveryError } from "./discover.ts";
export { type MigrateOptions, type MigrateRequest, migrate } from "./migrate.ts";
export { getSnapshot, getVmConfig, getVmDescriptions } from "./snapshot.ts";
export { findMigrationSource } from "./source.ts";
export type * from "./types.ts";
export { formatUpid, parseUpid } from "./upid.ts";
export { missingConfiguredVms, missingVmWarning } from "./visibility.ts";
export { waitForGuestOn } from "./wait.ts";
