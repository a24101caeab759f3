import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../../common/json';

/**
 * What a standard CIBA request adds to the approval it parked (keyed by its auth_req_id): the
 * registered client that made it (only it may redeem, its ID token is for it), the scope it
 * asked for and the RFC 9396 authorization_details its access token carries.
 */
@Entity({ name: 'ciba_requests' })
export class CibaRequest {
  @PrimaryColumn({ name: 'auth_req_id', type: 'text' }) authReqId: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'client_id', type: 'text' }) clientId: string;
  @Column({ type: 'text' }) scope: string;
  @Column({ name: 'authorization_details', type: 'jsonb' }) authorizationDetails: JsonObject[];
}
