/**
 * The error catalogue: every error the API returns is one of these classes, each an OAuth/CIBA-
 * style `error` code, an HTTP status and a description written for the client. Anything else
 * becomes `server_error` without detail (see ProtocolErrorFilter), so internals never leak.
 * Domain code throws these; they carry no Nest types, so workers can share the code that throws
 * them. All of them live in this file, so the codes and statuses can be read in one place.
 */
export abstract class ProtocolError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  constructor(
    readonly description: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(description);
  }
  body(): Record<string, unknown> {
    return { error: this.code, error_description: this.description, ...this.extra };
  }
  headers(): Record<string, string> {
    return {};
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

export class InvalidRequest extends ProtocolError {
  readonly code: string = 'invalid_request';
  readonly status = 400;
  static forFields(problems: FieldProblem[], code?: string): InvalidRequest {
    const first = problems[0];
    const err =
      code === 'invalid_binding_message'
        ? new InvalidBindingMessage(`${first.field}: ${first.message}`, { field: first.field, errors: problems })
        : code === 'invalid_client_notification_token'
          ? new InvalidClientNotificationToken(`${first.field}: ${first.message}`, { field: first.field, errors: problems })
          : new InvalidRequest(`${first.field}: ${first.message}`, { field: first.field, errors: problems });
    return err;
  }
}
export class InvalidBindingMessage extends InvalidRequest {
  override readonly code = 'invalid_binding_message';
}
export class InvalidClientNotificationToken extends InvalidRequest {
  override readonly code = 'invalid_client_notification_token';
}
export class AuthorizationPending extends ProtocolError {
  readonly code = 'authorization_pending';
  readonly status = 400;
}
export class SlowDown extends ProtocolError {
  readonly code = 'slow_down';
  readonly status = 400;
}
export class ExpiredToken extends ProtocolError {
  readonly code = 'expired_token';
  readonly status = 400;
}
export class AccessDenied extends ProtocolError {
  readonly code = 'access_denied';
  readonly status = 400;
}
export class InvalidGrant extends ProtocolError {
  readonly code = 'invalid_grant';
  readonly status = 400;
}
/** RFC 6750 §3: the WWW-Authenticate challenge; the description may not carry quotes or backslashes. */
function bearerChallenge(error: string, description: string): Record<string, string> {
  return { 'WWW-Authenticate': `Bearer realm="countersign", error="${error}", error_description="${description.replace(/["\\]/g, "'")}"` };
}

/** RFC 6750 §3.1: a missing, malformed, expired or untrusted bearer token. */
export class InvalidToken extends ProtocolError {
  readonly code = 'invalid_token';
  readonly status = 401;
  override headers(): Record<string, string> {
    return bearerChallenge(this.code, this.description);
  }
}
/** RFC 6750 §3.1: the token is valid but lacks the scope this endpoint needs. */
export class InsufficientScope extends ProtocolError {
  readonly code = 'insufficient_scope';
  readonly status = 403;
  override headers(): Record<string, string> {
    return bearerChallenge(this.code, this.description);
  }
}
/** The caller is authenticated but this credential may not do this (e.g. an approver not named). */
export class Forbidden extends ProtocolError {
  readonly code = 'forbidden';
  readonly status = 403;
}
export class NotFound extends ProtocolError {
  readonly code = 'not_found';
  readonly status = 404;
}
/** A vote or cancel on a request that is no longer pending, a second vote by one approver, or a resource type still in use. */
export class Conflict extends ProtocolError {
  readonly status = 409;
  constructor(
    readonly code: 'request_closed' | 'already_voted' | 'resource_type_in_use',
    description: string,
    extra: Record<string, unknown> = {},
  ) {
    super(description, extra);
  }
}
/**
 * A vote refused for its passkey proof (issue 15): none where one is required (403
 * passkey_required), or an assertion that does not prove this approver decided exactly this
 * (400: passkey_mismatch binds another request, call, decision or reason; passkey_challenge_unknown
 * was never issued, is used already or expired; passkey_invalid fails WebAuthn verification).
 */
export class PasskeyRefused extends ProtocolError {
  readonly status: number;
  constructor(
    readonly code: 'passkey_required' | 'passkey_mismatch' | 'passkey_challenge_unknown' | 'passkey_invalid',
    description: string,
    extra: Record<string, unknown> = {},
  ) {
    super(description, extra);
    this.status = code === 'passkey_required' ? 403 : 400;
  }
}
/**
 * RFC 6749 §5.2: client authentication failed (no or several methods, unknown client, wrong
 * credentials, an invalid assertion). A client that tried HTTP Basic gets the Basic challenge.
 */
export class InvalidClient extends ProtocolError {
  readonly code = 'invalid_client';
  readonly status = 401;
  constructor(
    description: string,
    readonly basicChallenge = false,
  ) {
    super(description);
  }
  override headers(): Record<string, string> {
    return this.basicChallenge ? { 'WWW-Authenticate': 'Basic realm="countersign"' } : {};
  }
}
/** RFC 6749 §5.2 / CIBA §13: the authenticated client may not use this grant or delivery mode. */
export class UnauthorizedClient extends ProtocolError {
  readonly code = 'unauthorized_client';
  readonly status = 400;
}
/**
 * RFC 6749 §4.1.2.1's temporarily_unavailable, as an HTTP 503: the database or Redis cannot be
 * reached right now. Retry-After says when to try again; what failed is logged, never sent.
 */
export class TemporarilyUnavailable extends ProtocolError {
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
  constructor(
    description = 'the service is temporarily unavailable; retry later',
    readonly retryAfterSeconds = 2,
  ) {
    super(description);
  }
  override headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfterSeconds) };
  }
}
/**
 * Too many requests from one gateway, CIBA client or approver link in the current window
 * (RFC 6585 §4). Unlike CIBA's `slow_down` (one auth_req_id polled faster than its interval,
 * a 400), this limits the caller as a whole; Retry-After says when its window ends.
 */
export class RateLimited extends ProtocolError {
  readonly code = 'rate_limited';
  readonly status = 429;
  constructor(
    description: string,
    readonly retryAfterSeconds: number,
  ) {
    super(description);
  }
  override headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfterSeconds) };
  }
}

/**
 * The obligation cannot be met as given (unknown or unreachable approvers, a quorum nobody can
 * reach, timers that could never fire): a 400 like any bad field, and a type of its own so that
 * the authorization engine can deny a policy's unmeetable obligation instead of failing.
 */
export class UnmetObligation extends InvalidRequest {
  static of(problems: FieldProblem[]): UnmetObligation {
    return new UnmetObligation(`${problems[0].field}: ${problems[0].message}`, { field: problems[0].field, errors: problems });
  }
}
/** A policy set with its validator messages. */
export class InvalidPolicy extends ProtocolError {
  readonly code = 'invalid_policy';
  readonly status = 400;
}
/** The client_id is registered by another tenant: ids are global because credentials name the tenant. */
export class ClientIdTaken extends ProtocolError {
  readonly code = 'client_id_taken';
  readonly status = 409;
}

// The error codes CIBA Core §13 and RFC 9396 §5 add to OAuth's, with the statuses they give them.

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
