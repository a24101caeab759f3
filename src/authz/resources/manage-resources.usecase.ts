import { Injectable } from '@nestjs/common';
import { PolicyStore } from '../policies/policy-store.service';
import { ResourceRow, ResourceTypeRow } from './resource.entity';
import { entityShape } from './resource-schema';
import { ResourceRegistry } from './resource-registry.service';
import { DeclareResourceType, RegisterResource } from './resources.commands';

/** A declared type as the admin API shows it, with the Cedar shape of its entities. */
export function resourceTypeView(row: ResourceTypeRow) {
  return {
    name: row.name,
    attributes: row.attributes,
    /** Policies read a resource of this type as `context.<name>` (after `context has <name>`). */
    context_member: row.name,
    cedar_shape: entityShape({ name: row.name, attributes: row.attributes }),
    declared_at: row.declaredAt.toISOString(),
    declared_by: row.declaredBy,
  };
}

export function resourceView(row: ResourceRow) {
  return {
    id: row.id,
    type: row.type,
    classification: row.classification,
    environment: row.environment,
    owner: row.owner,
    attributes: row.attributes,
    registered_at: row.registeredAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    updated_by: row.updatedBy,
  };
}

/**
 * Resource type changes, each refused when the tenant's active policy set would no longer validate
 * against the resulting schema (the validator's messages name the policy), as catalogue changes are.
 */
@Injectable()
export class ManageResources {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly policies: PolicyStore,
  ) {}

  async declareType(tenantId: string, name: string, input: DeclareResourceType, by: string) {
    const { created, revision } = await this.registry.declareType(tenantId, name, input, by, (m, c) =>
      this.policies.checkActiveSetUnder(m, tenantId, c, 'attributes'),
    );
    return { created, view: { ...resourceTypeView(await this.registry.type(tenantId, name)), revision } };
  }

  deleteType(tenantId: string, name: string, by: string): Promise<void> {
    return this.registry.deleteType(tenantId, name, by, (m, c) => this.policies.checkActiveSetUnder(m, tenantId, c, 'name'));
  }

  async put(tenantId: string, id: string, input: RegisterResource, by: string) {
    const { created, resource } = await this.registry.put(tenantId, id, input, by);
    return { created, view: resourceView(resource) };
  }
}
