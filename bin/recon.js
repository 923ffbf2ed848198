#!/usr/bin/env node
// The `recon` command: runs the TypeScript sources directly through tsx, so a clean clone
// needs no build step (`npm ci && npx recon --help`).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
