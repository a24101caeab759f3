import type { JWK } from 'jose';
import { DeliveryMode } from '../../vocabulary/envelope';
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const AUTH_METHODS = ['private_key_jwt', 'client_secret_basic', 'client_secret_post'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export const SECRET_AUTH_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post'];

/** A JWK Set of public keys only (checked on registration). */
export interface PublicJwkSet {
  keys: JWK[];
}

/**
 * A client of the standard CIBA endpoints (bc-authorize, token). client_id is globally unique:
 * the client's credentials are what identify its tenant.
 */
@Entity({ name: 'ciba_clients' })
export class CibaClient {
  @PrimaryColumn({ name: 'client_id', type: 'text' }) clientId: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ type: 'text', nullable: true }) name: string | null;
  @Column({ name: 'backchannel_token_delivery_mode', type: 'text' }) backchannelTokenDeliveryMode: DeliveryMode;
  /** Where ping and push notifications go; null for poll. */
  @Column({ name: 'backchannel_client_notification_endpoint', type: 'text', nullable: true }) backchannelClientNotificationEndpoint: string | null;
  @Column({ name: 'token_endpoint_auth_method', type: 'text' }) tokenEndpointAuthMethod: AuthMethod;
  /** private_key_jwt: exactly one of jwks and jwksUri (RFC 7591 names on the wire). */
  @Column({ type: 'jsonb', nullable: true }) jwks: PublicJwkSet | null;
  @Column({ name: 'jwks_uri', type: 'text', nullable: true }) jwksUri: string | null;
  /** client_secret_basic / client_secret_post: "hmac-sha256$salt$hash" (or an older "scrypt$…"), never the secret itself. */
  @Column({ name: 'secret_hash', type: 'text', nullable: true }) secretHash: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
