import { ApprovalLifecycle1763900000000 } from './1763900000000-approval-lifecycle';

/** Every migration, in order. Passed as classes so the same list works under jest and from dist/. */
export const migrations = [ApprovalLifecycle1763900000000];
