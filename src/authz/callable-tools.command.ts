import { z } from 'zod';
import { id } from '../common/validation';
import { authorizeSchema } from './authorize.command';

/** At most this many tools per question: a gateway asks about its whole tools/list at once. */
export const MAX_TOOLS_ASKED = 1000;

/** Which of these tools could this agent ever be allowed to call? (POST /v1/authorize/tools) */
export const callableToolsSchema = z.strictObject({
  agent: authorizeSchema.shape.agent,
  tools: z
    .array(z.strictObject({ server: id, tool: id }))
    .min(1, { message: 'must name at least one tool' })
    .max(MAX_TOOLS_ASKED, { message: `must name at most ${MAX_TOOLS_ASKED} tools` }),
});

export type CallableToolsInput = z.output<typeof callableToolsSchema>;
