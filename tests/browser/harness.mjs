// Shared harness for the browser suite: a live sandboxd agent and headless Chromium (Debian's package, driven by
// playwright-core, which cannot download a browser of its own here).
//
// Agent: the agent harness shared with tests/conformance (tests/harness/agent.mjs).
// Browser: $CHROMIUM_PATH, default /usr/bin/chromium (`apt-get install -y chromium`).
//
// Every wait is bounded; there are no fixed sleeps.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AgentProcess, repoRoot, waitFor } from '../harness/agent.mjs';

export { repoRoot, waitFor };

const here = dirname(fileURLToPath(import.meta.url));
export const artifactsDir = join(here, 'artifacts');

/** The browser suite's agent: the shared agent process plus a magic link for a browser to open. */
export class Agent extends AgentProcess {
  constructor() {
    super({ label: 'sbx-browser' });
  }

  async magicLink() {
    const { status, body } = await this.call('POST', '/auth/magic-links', {});
    if (status !== 201 && status !== 200) throw new Error(`POST /auth/magic-links -> ${status} ${JSON.stringify(body)}`);
    return body.data.magic_url;
  }
}

/** Headless Chromium with a fresh profile (launch() gives every browser its own temporary user-data-dir). */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Saves a screenshot under tests/browser/artifacts/ (best effort); returns its path. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const path = join(artifactsDir, name);
  await page.screenshot({ path, timeout: 15_000 }).catch(() => {});
  return path;
}
