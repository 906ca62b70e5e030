// The simulator's HTTP error: a status, a message and per-field errors, the
// shape pve-common's PVE::Exception carries. A leaf module so that the state,
// access and route modules can all throw it without importing each other.

export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}
