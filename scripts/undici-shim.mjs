// Bundles only: proxmox-api imports undici for a default fetch that this
// project never uses (lib/cluster always passes its own pinned fetch). The
// shim keeps ~750 KB of undici out of the hook's cold start.
export const fetch = (...args) => globalThis.fetch(...args);
