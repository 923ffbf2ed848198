import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { longestTestFiles } from '../support/longest-first-sequencer.js';

describe('the sequencer\'s list of the longest test files', () => {
  it('names files that exist, each once (a renamed file would silently lose its place)', () => {
    expect(longestTestFiles.filter((name) => !existsSync(name))).toEqual([]);
    expect(new Set(longestTestFiles).size).toBe(longestTestFiles.length);
  });
});
