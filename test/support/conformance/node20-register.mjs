// `node --import ./node20-register.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js …`
// runs the conformance CLI on Node 20 (see node20-hooks.mjs).
import { register } from 'node:module';
register('./node20-hooks.mjs', import.meta.url);
