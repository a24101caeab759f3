/**
 * The gateway's entry point: `GATEWAY_CONFIG=gateway.json npm run start:gateway`. A bad
 * configuration prints every bad field and exits 1 before anything listens.
 */
import { GatewayConfigError, loadGatewayConfig } from './gateway-config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const path = process.env.GATEWAY_CONFIG;
  if (!path) {
    process.stderr.write("GATEWAY_CONFIG: must name the gateway's JSON configuration file (see gateway.example.json)\n");
    process.exit(1);
  }
  let config;
  try {
    config = loadGatewayConfig(path);
  } catch (e) {
    process.stderr.write(`${e instanceof GatewayConfigError ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const gateway = await startGateway(config);
  process.stdout.write(`Countersign MCP gateway listening on ${gateway.resource}\n`);
  const stop = () => {
    void gateway.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main().catch((e) => {
  // A configured service it cannot reach (state.redis_url) is reported as the bad field it is.
  process.stderr.write(e instanceof GatewayConfigError ? `${e.message}\n` : `the gateway could not start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
