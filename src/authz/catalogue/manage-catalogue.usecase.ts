import { Injectable } from '@nestjs/common';
import { PolicyStore } from '../policies/policy-store.service';
import { CatalogueStore } from './catalogue-store.service';
import { CatalogueToolRow } from './catalogue-tool.entity';
import { PutServerTools } from './catalogue.commands';
import { inputType } from './tenant-schema';
import { shapeOf, uncheckedMembers } from './input-shape';

/** A catalogued tool as the admin API shows it, with what policies see of its input. */
export function toolView(row: CatalogueToolRow) {
  const shape = shapeOf(row.inputSchema);
  return {
    name: row.name,
    action: `${row.server}/${row.name}`,
    ...(row.title ? { title: row.title } : {}),
    ...(row.description ? { description: row.description } : {}),
    inputSchema: row.inputSchema,
    ...(row.annotations ? { annotations: row.annotations } : {}),
    /** The Cedar type of context.input (JSON schema format), and the members left out of it. */
    cedar_input: inputType(shape),
    unchecked: uncheckedMembers(shape),
    registered_at: row.registeredAt.toISOString(),
    registered_by: row.registeredBy,
  };
}

/**
 * Catalogue changes, each refused when the tenant's active policy set would no longer validate
 * against the resulting schema (the validator's messages name the policy).
 */
@Injectable()
export class ManageCatalogue {
  constructor(
    private readonly catalogue: CatalogueStore,
    private readonly policies: PolicyStore,
  ) {}

  async putServer(tenantId: string, server: string, input: PutServerTools, by: string) {
    const { created, revision } = await this.catalogue.putServer(tenantId, server, input.tools, by, (m, c) =>
      this.policies.checkActiveSetUnder(m, tenantId, c),
    );
    return { created, view: { server, revision, tools: (await this.catalogue.server(tenantId, server).catch(() => [])).map(toolView) } };
  }

  deleteServer(tenantId: string, server: string, by: string): Promise<void> {
    return this.catalogue.deleteServer(tenantId, server, by, (m, c) => this.policies.checkActiveSetUnder(m, tenantId, c));
  }
}
