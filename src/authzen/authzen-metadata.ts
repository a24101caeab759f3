/**
 * PDP metadata (AuthZEN 1.0 §9): what a PEP reads at /.well-known/authzen-configuration to find
 * the endpoints. Only what is implemented is listed (the spec: an absent endpoint means "not
 * supported"; parameters without values are omitted), so no search endpoints and no
 * `capabilities` (none is registered for what we do). `supported_obligations` is the Obligations
 * Profile's own metadata member (§6).
 */
export const EVALUATION_PATH = '/access/v1/evaluation';
export const EVALUATIONS_PATH = '/access/v1/evaluations';
export const METADATA_PATH = '/.well-known/authzen-configuration';

export function authZenMetadata(publicUrl: string): Record<string, unknown> {
  const pdp = publicUrl.replace(/\/+$/, '');
  return {
    policy_decision_point: pdp,
    access_evaluation_endpoint: pdp + EVALUATION_PATH,
    access_evaluations_endpoint: pdp + EVALUATIONS_PATH,
    supported_obligations: ['step-up'],
  };
}
