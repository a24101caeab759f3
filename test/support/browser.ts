import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Browser, chromium } from 'playwright-core';

export const PHONE_VIEWPORT = { width: 390, height: 844 };
export const DESKTOP_VIEWPORT = { width: 1280, height: 900 };

/** The system's Debian chromium, headless; no network chatter of its own. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

const ARTIFACTS_DIR = resolve(__dirname, '..', 'artifacts');

/** Absolute path of test/artifacts/<name> (git-ignored); the folder (and any sub-folder in name) is created. */
export function artifactPath(name: string): string {
  const path = resolve(ARTIFACTS_DIR, name);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}
