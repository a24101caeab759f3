import { InvalidRequest, ProtocolError } from '../common/errors/protocol-errors';

/** The error codes CIBA Core §13 and RFC 9396 §5 add to OAuth's, with the statuses they give them. */

export class InvalidScope extends ProtocolError {
  readonly code = 'invalid_scope';
  readonly status = 400;
}
export class UnknownUserId extends ProtocolError {
  readonly code = 'unknown_user_id';
  readonly status = 400;
}
export class ExpiredLoginHintToken extends ProtocolError {
  readonly code = 'expired_login_hint_token';
  readonly status = 400;
}
export class InvalidAuthorizationDetails extends InvalidRequest {
  override readonly code = 'invalid_authorization_details';
}
export class UnsupportedGrantType extends ProtocolError {
  readonly code = 'unsupported_grant_type';
  readonly status = 400;
}
