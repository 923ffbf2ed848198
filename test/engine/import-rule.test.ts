import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The one-way import rule (docs/architecture.md): only the start-up wiring (src/run.ts,
 * src/main.ts) composes the demo and the simulators; only the wiring and the CLI reach
 * src/admin. The engine itself (src/engine) imports neither the demo nor a simulator.
 */
const srcDir = fileURLToPath(new URL('../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every import specifier of a file, resolved against src (relative ones only). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)].map((m) => path.relative(srcDir, path.resolve(path.dirname(file), m[1]!)));
}

const files = sourceFiles(srcDir).map((file) => ({ name: path.relative(srcDir, file), imports: importsOf(file) }));
const isDemoOrSimulator = (target: string): boolean => target.startsWith('demo/') || /(^|\/)simulator(\/|\.js$)/.test(target);

describe('imports run one way', () => {
  it('sees the source tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.find((f) => f.name === 'run.ts')?.imports.some(isDemoOrSimulator)).toBe(true);
  });

  it('nothing in src/engine imports src/demo or a simulator', () => {
    const offenders = files.filter((f) => f.name.startsWith('engine/')).flatMap((f) => f.imports.filter(isDemoOrSimulator).map((i) => `${f.name} → ${i}`));
    expect(offenders).toEqual([]);
  });

  it('src/recon, src/eod, src/actors and the record layers import neither src/admin, src/demo nor a simulator', () => {
    const layers = ['recon/', 'eod/', 'actors/', 'db/', 'nats/', 'supervisor/', 'fsm/', 'audit/', 'config/'];
    const offenders = files
      .filter((f) => layers.some((layer) => f.name.startsWith(layer)))
      .flatMap((f) => f.imports.filter((i) => i.startsWith('admin/') || isDemoOrSimulator(i)).map((i) => `${f.name} → ${i}`));
    expect(offenders).toEqual([]);
  });
});
