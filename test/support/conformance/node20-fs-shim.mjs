// fs for the conformance runner on Node 20: its bundle imports fs.globSync (Node >= 22), used
// only by its tier-check command, which this project never runs.
import fs from 'node:fs';
export * from 'node:fs';
export default fs;
export function globSync() {
  throw new Error('fs.globSync needs Node 22 (used only by conformance tier-check)');
}
