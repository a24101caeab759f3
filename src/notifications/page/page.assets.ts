/**
 * The approval page's static assets, real files beside this one in ./assets (the build copies
 * them into dist: scripts/copy-assets.js), read once at start-up and served from the same origin
 * (the page CSP is `script-src 'self'; style-src 'self'; worker-src 'self'`, so nothing may be
 * inlined in the HTML):
 * - assets/page.css at /approve/assets/page.<hash>.css
 * - assets/page.js at /approve/assets/page.<hash>.js
 * - assets/sw.js at /sw.js (root, so its scope '/' covers the approval pages; served with
 *   `content-type: text/javascript` and `cache-control: no-cache`: a service worker's URL must not change)
 * The page's CSS and script are named by a hash of their content, so browsers may keep them for a
 * year (`immutable`) and still get a changed file at once: its name changes with it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The directory the asset files are in: beside this module (the source tree, or a dist that
 * `npm run build` made). A dist compiled by a bare `tsc` (as some tests do) has no copies; in a
 * checkout its assets are still the source tree's, found at the same path under the project root.
 */
function assetsDir(): string {
  const beside = join(__dirname, 'assets');
  if (existsSync(beside)) return beside;
  const distRoot = join(__dirname, '..', '..', '..');
  const inSource = join(distRoot, '..', relative(distRoot, beside));
  if (existsSync(inSource)) return inSource;
  throw new Error(`the approval page's assets are missing from ${beside}: build with \`npm run build\`, which copies them`);
}

export const PAGE_ASSETS_DIR = assetsDir();

const asset = (name: string): string => readFileSync(join(PAGE_ASSETS_DIR, name), 'utf8');

/** Mobile-first stylesheet, system fonts only, WCAG AA colours, 44px+ targets, visible focus. */
export const PAGE_CSS = asset('page.css');
/** The approval page's script: countdown, double-submit guard, notification intent note, "enable push" button. */
export const PAGE_JS = asset('page.js');
/** The service worker: shows a push as a notification; a click only opens the approval page. */
export const SERVICE_WORKER_JS = asset('sw.js');

/** The first 16 hex digits of the content's SHA-256: enough to tell versions apart, short in a URL. */
export const contentHash = (content: string): string => createHash('sha256').update(content).digest('hex').slice(0, 16);

/**
 * @simplewebauthn/browser's UMD bundle (global SimpleWebAuthnBrowser), served as it is published:
 * the passkey ceremonies' base64url plumbing around navigator.credentials. Read from the package
 * (its exports name only the module entry, whose folder is beside dist/).
 */
export const WEBAUTHN_JS = readFileSync(join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'), 'utf8');

export const PAGE_CSS_PATH = `/approve/assets/page.${contentHash(PAGE_CSS)}.css`;
export const PAGE_JS_PATH = `/approve/assets/page.${contentHash(PAGE_JS)}.js`;
export const WEBAUTHN_JS_PATH = `/approve/assets/webauthn.${contentHash(WEBAUTHN_JS)}.js`;
