/**
 * The boundaries between Countersign's parts (docs: /work/shared/DESIGN.md "Parts"), checked by
 * `npm run lint:boundaries` and by test/architecture/boundaries.e2e-spec.ts, which CI runs.
 *
 * The parts form layers, and imports only point down them (so no two parts depend on each other):
 *
 *   config ← common ← audit ← approvals ← authz, ciba ← notifications ← authzen ← ops ← app (app.module,
 *   bootstrap, main, worker, cli, demo)
 *
 * vocabulary (the words the parts share) imports nothing; the MCP gateway is its own process and
 * uses only common. Known exceptions are listed where they are allowed, each with the reason,
 * instead of loosening the rule.
 */

/** The application's entry points and tools: nothing in a part may import them. */
const APP_LEVEL = '^src/(app\\.module|bootstrap|main|worker)\\.ts$|^src/(cli|demo)/';
/** A part may not import these parts (the ones above it, or beside it). */
const above = (parts) => `^src/(${parts})/`;

/** The policy engine's core: plain TypeScript over Cedar, testable and benchmarkable alone. */
const ENGINE_CORE = [
  '^src/authz/policy/',
  '^src/authz/catalogue/(tenant-schema|input-shape|cedar-decimal)\\.ts$',
  '^src/authz/resources/resource-schema\\.ts$',
];

/**
 * Imports of another part's TypeORM entity that exist today, each a debt, not a pattern: the entity
 * belongs to its part, and the others should ask that part (issue 13: repositories and events).
 */
const FOREIGN_ENTITY_READERS = [
  // notifications read approval_requests rows to route, render and deliver (the outbox work moves
  // its rounds to a table of its own); the page records votes through DecideApproval.
  '^src/notifications/(notify-approvers\\.usecase|notification-deliveries\\.repository|notification-routing\\.service|notification-jobs\\.service|notification-content)\\.ts$',
  '^src/notifications/page/approval-page\\.service\\.ts$',
  // the page's standing-approval choice reads the parked request it renders
  '^src/notifications/page/standing-choice\\.ts$',
  // the redeem's re-evaluation reads the parked call's row that approvals hands it
  '^src/authz/redeem-reevaluation\\.service\\.ts$',
  // a command-line tool that mints a link for an existing request
  '^src/cli/mint-approver-link\\.ts$',
];

module.exports = {
  forbidden: [
    {
      name: 'no-import-cycles',
      comment:
        'No module cycles, so none between parts either (the layer rules below forbid those by direction). ' +
        'Cycles through type-only imports are allowed: they vanish at run time (the approval request entity and the redeem port name each other).',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'config-imports-nothing-of-the-app',
      comment: 'Configuration is the bottom layer: everything reads it, it reads nothing of ours.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'common-knows-no-domain',
      comment: 'common is wiring and plain helpers (database, Redis, keys, errors, OpenAPI decorators); no part.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: `${above('approvals|audit|authz|authzen|ciba|notifications|ops|gateway|vocabulary')}|${APP_LEVEL}` },
    },
    {
      name: 'vocabulary-imports-nothing',
      comment: 'The shared words (envelope lists and limits, reason codes, eligibility) are plain constants and functions.',
      severity: 'error',
      from: { path: '^src/vocabulary/' },
      to: { pathNot: '^src/vocabulary/' },
    },
    {
      name: 'audit-knows-nothing-above-it',
      severity: 'error',
      from: { path: '^src/audit/' },
      to: { path: `${above('approvals|authz|authzen|ciba|notifications|ops|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'approvals-knows-no-policies-channels-or-ciba',
      comment: 'approvals is the lifecycle; authz parks through it, notifications react to it, CIBA is a facade over it.',
      severity: 'error',
      from: { path: '^src/approvals/' },
      to: { path: `${above('authz|authzen|ciba|notifications|ops|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'authz-uses-only-approvals-and-below',
      severity: 'error',
      from: { path: '^src/authz/' },
      to: { path: `${above('authzen|ciba|notifications|ops|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'ciba-is-a-facade-over-approvals',
      severity: 'error',
      from: { path: '^src/ciba/' },
      to: { path: `${above('authz|authzen|notifications|ops|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'notifications-use-approvals-and-the-directory-port',
      severity: 'error',
      from: { path: '^src/notifications/' },
      to: { path: `${above('authzen|ciba|ops|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'authzen-is-a-facade-over-authz',
      severity: 'error',
      from: { path: '^src/authzen/' },
      to: { path: `${above('approvals|ciba|notifications|ops|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'ops-is-above-the-parts',
      comment: 'ops watches the parts (health, metrics, queues); nothing in a part imports ops.',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: `${above('authzen|gateway')}|${APP_LEVEL}` },
    },
    {
      name: 'the-gateway-is-its-own-process',
      comment: 'The MCP gateway talks to Countersign over HTTP; it shares only common helpers.',
      severity: 'error',
      from: { path: '^src/gateway/' },
      to: { path: `^src/(?!gateway/|common/)` },
    },
    {
      name: 'policy-engine-core-is-plain-typescript',
      comment: 'The engine core imports only itself, the vocabulary and Cedar: no Nest, no TypeORM, no other part.',
      severity: 'error',
      from: { path: ENGINE_CORE, pathNot: '\\.spec\\.ts$' },
      to: { pathNot: [...ENGINE_CORE, '^src/vocabulary/', '(^|/)node_modules/@cedar-policy/', '^v8$', '^node:v8$'] },
    },
    {
      name: 'controllers-run-no-sql',
      comment: 'Controllers parse, call one service and map the result; queries live in services and repositories.',
      severity: 'error',
      from: { path: '\\.controller\\.ts$' },
      to: { path: '(^|/)node_modules/(typeorm|@nestjs/typeorm|pg)/' },
    },
    {
      name: 'use-cases-run-no-sql',
      comment: 'A use case reaches data through repositories (tenant scoping in one place); none holds the DataSource or imports TypeORM or pg.',
      severity: 'error',
      from: { path: '\\.usecase\\.ts$' },
      to: { path: '(^|/)node_modules/(typeorm|@nestjs/typeorm|pg)/' },
    },
    {
      name: 'entities-belong-to-their-part',
      comment: "Only a part's own files touch its TypeORM entities (FOREIGN_ENTITY_READERS lists today's exceptions).",
      severity: 'error',
      from: { path: '^src/([^/]+)/', pathNot: FOREIGN_ENTITY_READERS },
      to: { path: '\\.entity\\.ts$', pathNot: '^src/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
