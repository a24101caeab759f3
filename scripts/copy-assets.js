// Copies the files that tsc does not emit (the approval page's CSS and browser JS, the SMTP sender's
// thread script) from src/ into dist/src/, beside the compiled code that reads them. Run by
// `npm run build` after tsc.
'use strict';
const { cpSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
/** Source directories whose every file is a runtime asset, relative to the project root. */
const ASSET_DIRS = ['src/notifications/page/assets'];
/** Single runtime files, relative to the project root. */
const ASSET_FILES = ['src/notifications/email/smtp-sender.worker.cjs'];

for (const dir of ASSET_DIRS) {
  const from = join(ROOT, dir);
  if (!existsSync(from)) throw new Error(`asset directory ${dir} is missing`);
  cpSync(from, join(ROOT, 'dist', dir), { recursive: true });
}

for (const file of ASSET_FILES) {
  const from = join(ROOT, file);
  if (!existsSync(from)) throw new Error(`asset ${file} is missing`);
  cpSync(from, join(ROOT, 'dist', file));
}
