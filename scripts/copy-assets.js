// Copies the files that tsc does not emit (the approval page's CSS and browser JS, the SMTP sender's
// thread script) from src/ into dist/src/, beside the compiled code that reads them. Run by
// `npm run build` after tsc.
'use strict';
const { cpSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
/** Runtime files that tsc does not emit, and directories whose every file is one, relative to the project root. */
const ASSETS = ['src/notifications/page/assets', 'src/notifications/email/smtp-sender.worker.cjs'];

for (const asset of ASSETS) {
  const from = join(ROOT, asset);
  if (!existsSync(from)) throw new Error(`asset ${asset} is missing`);
  cpSync(from, join(ROOT, 'dist', asset), { recursive: true });
}
