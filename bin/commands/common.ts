// What every subcommand shares: the global options and JSON printing.

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/** JSON output; Secret values serialize as "<redacted>" through their toJSON. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
