import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';

/** A regular file we may execute (not a directory, not a dangling link). */
export async function isExecutable(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}
