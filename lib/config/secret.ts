import { inspect } from "node:util";

/**
 * A secret read from a file. Every way a value can be turned into text
 * (String(), JSON, util.inspect, template strings) yields "<redacted>", so a
 * secret that ends up in a log line or --json output by mistake shows nothing.
 * Only reveal() returns the value, and only the code that signs or
 * authenticates calls it.
 */
export class Secret {
  readonly #value: string;
  constructor(
    value: string,
    /** The file it came from: what errors name instead of the content. */
    readonly file: string,
  ) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "<redacted>";
  }
  toJSON(): string {
    return "<redacted>";
  }
  [inspect.custom](): string {
    return "<redacted>";
  }
}
