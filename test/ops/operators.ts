import { OPERATOR_SCOPE } from '../../src/common/auth/auth.decorators';
import { gatewayToken } from '../support/keys';

/** The subjects the ops tests list in OPERATOR_SUBJECTS: a person on call and the Prometheus scraper. */
export const OPERATOR_SUBJECT = 'platform-oncall';
export const SCRAPER_SUBJECT = 'prometheus';
export const OPERATORS = { OPERATOR_SUBJECTS: `${OPERATOR_SUBJECT},${SCRAPER_SUBJECT}` };

/** An operator's token from the gateways' issuer: the operator scope, a listed subject (unless told otherwise). */
export function operatorToken(sub = OPERATOR_SUBJECT, scope = OPERATOR_SCOPE): Promise<string> {
  return gatewayToken({ tenant: 'platform', sub, scope });
}
