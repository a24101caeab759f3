/**
 * The demo under docker compose, where the service, the sample servers, the gateway and the agent
 * are separate containers of one image (see docker-compose.yml):
 *
 *   node dist/src/demo/compose.js gateway   waits for the API and the sample servers, grants the
 *                                           agent's delegation and publishes the demo policy set,
 *                                           then runs the MCP gateway in front of the sample servers
 *   node dist/src/demo/compose.js agent     waits for the gateway, then runs the scripted agent once
 *
 * Both mint their tokens from the development key in KEYS_DIR (the volume the API creates it in).
 * Environment: COUNTERSIGN_URL (http://api:3000), PUBLIC_URL (http://localhost:3000, the approval
 * tokens' issuer), UPSTREAM_URL (http://upstream:4001), GATEWAY_PORT (8787), GATEWAY_PUBLIC_URL
 * (http://localhost:8787), GATEWAY_URL (the agent's: http://gateway:8787/mcp).
 */
import { startGateway } from '../gateway/gateway';
import { parseGatewayConfig } from '../gateway/gateway-config';
import { demoAgentToken, demoGatewayConfig, prepareDemoTenant } from './demo-tenant';
import { runScriptedAgent } from './scripted-agent';

const say = (line = '') => process.stdout.write(`${line}\n`);

/** Until `url` answers with one of `statuses` (any answer at all when none are given). */
async function waitFor(url: string, what: string, statuses: number[] = [], timeoutMs = 180_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status && (!statuses.length || statuses.includes(status))) return;
    if (Date.now() > giveUpAt) throw new Error(`${what} (${url}) did not come up`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function gateway(env: NodeJS.ProcessEnv): Promise<void> {
  const api = (env.COUNTERSIGN_URL ?? 'http://api:3000').replace(/\/+$/, '');
  const upstreamBase = (env.UPSTREAM_URL ?? 'http://upstream:4001').replace(/\/+$/, '');
  const port = Number(env.GATEWAY_PORT ?? 8787);
  const publicUrl = env.GATEWAY_PUBLIC_URL ?? `http://localhost:${port}`;
  await waitFor(`${api}/health/live`, 'the Countersign API', [200]);
  // The sample servers take POSTs only: a 405 says they are up.
  await waitFor(`${upstreamBase}/payments/mcp`, 'the sample MCP servers', [405]);
  const { gatewayToken, adminToken } = await prepareDemoTenant(api, env);
  say('demo tenant acme: alice delegated to finance-assistant; demo policy set active');
  const config = parseGatewayConfig(
    demoGatewayConfig({
      api,
      issuer: env.PUBLIC_URL ?? 'http://localhost:3000',
      gatewayToken,
      adminToken,
      upstreamBase,
      listen: {
        host: '0.0.0.0',
        port,
        public_url: publicUrl,
        // The browser's name for it (the public URL) and the agent container's (GATEWAY_URL); no other Host (DNS rebinding).
        allowed_hosts: [new URL(publicUrl).host, new URL(env.GATEWAY_URL ?? `http://gateway:${port}/mcp`).host],
      },
    }),
  );
  const running = await startGateway(config);
  say(`Countersign MCP gateway listening on ${running.resource}`);
  const stop = () => void running.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function agent(env: NodeJS.ProcessEnv): Promise<void> {
  const gatewayUrl = env.GATEWAY_URL ?? 'http://gateway:8787/mcp';
  await waitFor(new URL('/.well-known/oauth-protected-resource', gatewayUrl).toString(), 'the MCP gateway', [200]);
  say('When step 3 waits: open the approval e-mail in mailpit (http://localhost:8025), follow the link, give a reason and approve.');
  const outcomes = await runScriptedAgent({ gatewayUrl, agentToken: await demoAgentToken(env), print: say });
  say();
  say(`summary  ${outcomes.map((x) => `step ${x.step} ${x.verdict}`).join(' · ')}`);
}

const roles: Record<string, (env: NodeJS.ProcessEnv) => Promise<void>> = { gateway, agent };
const role = roles[process.argv[2] ?? ''];
if (!role) {
  process.stderr.write('usage: node dist/src/demo/compose.js gateway|agent\n');
  process.exit(2);
}
void role(process.env).catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
