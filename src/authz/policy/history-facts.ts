/**
 * The facts a decision reads from the history of human judgement, not from the call: the sampled
 * reviews that flagged the agent (`context.agent_flags`) and the record of human decisions on this
 * kind of call (`context.autonomy`, graduated autonomy). Each costs a database read, so the engine
 * tells which of them its policy set can observe (PolicyEngine.observes) and only those are read:
 * a set that reads neither decides at today's cost. Plain TypeScript, no Nest.
 */
/** Flagged sampled reviews of the current agent, by when they were flagged. (Types, not interfaces: Cedar's context takes them as JSON records.) */
export type AgentFlags = {
  last_24h: number;
  last_7d: number;
  last_30d: number;
};

/**
 * Human decisions on approvals of calls of this agent class, tool and resource classification
 * (graduated autonomy). The streak counts approvals since the latest of: the last denial, the last
 * flag, the activation of the policy set in force, and an admin's reset.
 */
export type AutonomyFacts = {
  consecutive_approvals: number;
  approvals: number;
  denials: number;
  flags: number;
  /** Whole days since the last denial; NEVER_DAYS when there was none. */
  days_since_last_denial: number;
  /** Whole days since the last flag; NEVER_DAYS when there was none. */
  days_since_last_flag: number;
};

/** "Never": a number of days larger than any window a policy would write (100 years). */
export const NEVER_DAYS = 36500;
