// Module resolve hook: the conformance runner's `fs` import gets node20-fs-shim.mjs; nothing else changes.
const shim = new URL('./node20-fs-shim.mjs', import.meta.url).href;
export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
    return { url: shim, shortCircuit: true };
  }
  return next(specifier, context);
}
