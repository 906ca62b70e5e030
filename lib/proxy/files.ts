import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { PeerError } from "../errors.ts";
import { writeFileAtomic } from "../state/atomic-write.ts";

// Map files are written to a temp name in the same directory, then renamed:
// a reader (HAProxy at start, nginx on reload) sees the old file or the new
// one, never half of one.

/** One map file, atomically (also what tests use to seed an empty map before HAProxy starts). */
export async function writeMapFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, content, { mode: 0o644, maxBytes: Number.POSITIVE_INFINITY });
}

/** Writes a plan's map files; refuses any path that is not one of the backend's own map files. */
export async function writeMapFiles(
  files: readonly { path: string; content: string }[],
  ownPaths: readonly string[],
): Promise<void> {
  for (const f of files) {
    if (!ownPaths.includes(f.path))
      throw new PeerError(`plan writes ${f.path}, not one of this backend's map files`);
    await writeMapFile(f.path, f.content);
  }
}

/** The file's text, or null when it does not exist. */
export async function readFileOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
