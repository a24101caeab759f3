/**
 * The controlled intent vocabulary and the mapping of tools to action categories. The policy
 * sees both what the agent said it is doing and what the tool actually does, so a call whose
 * action does not match its stated intent ("summarize" → export) can be denied or stepped up.
 */
export const ACTION_CATEGORIES = ['read', 'search', 'summarize', 'export', 'write', 'delete', 'pay', 'admin'] as const;
export type ActionCategory = (typeof ACTION_CATEGORIES)[number];

const SYNONYMS: [RegExp, ActionCategory][] = [
  [/\b(summar|digest|brief|tl;?dr)/i, 'summarize'],
  [/\b(export|download|send|share|forward|sync|upload|email|publish|copy)/i, 'export'],
  [/\b(delete|remove|purge|drop|destroy|erase|cancel)/i, 'delete'],
  [/\b(pay|transfer|refund|charge|invoice|wire|purchase|buy)/i, 'pay'],
  [/\b(admin|grant|role|permission|configure|provision)/i, 'admin'],
  [/\b(search|find|look ?up|query)/i, 'search'],
  [/\b(write|create|update|edit|modify|insert|post|set|schedule|book)/i, 'write'],
  [/\b(read|get|list|fetch|view|show|check|open)/i, 'read'],
];

/** A stated intent as a category: an explicit category wins, else the text's first matching verb. */
export function normalizeIntent(category?: string, text?: string): ActionCategory | 'unknown' {
  if (category && (ACTION_CATEGORIES as readonly string[]).includes(category)) return category as ActionCategory;
  if (text) for (const [pattern, c] of SYNONYMS) if (pattern.test(text)) return c;
  return 'unknown';
}

/**
 * What a tool does: the policy set's override for "server/tool" or "server/*", else a guess
 * from the tool's name (snake_case and camelCase split into words). Unknown tools count as
 * admin, the most guarded category, so a new tool is never treated as a harmless read.
 */
export function toolCategory(server: string, tool: string, overrides: Record<string, string> = {}): ActionCategory {
  const override = overrides[`${server}/${tool}`] ?? overrides[`${server}/*`];
  if (override && (ACTION_CATEGORIES as readonly string[]).includes(override)) return override as ActionCategory;
  const words = tool.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_\-.]/g, ' ');
  // A name with several verbs takes its most guarded one: "email_digest" sends mail, and
  // "find_and_update" writes, whatever the intent vocabulary's precedence says.
  const matches = SYNONYMS.filter(([pattern]) => pattern.test(words)).map(([, c]) => c);
  return MOST_GUARDED_FIRST.find((c) => matches.includes(c)) ?? 'admin';
}

const MOST_GUARDED_FIRST: ActionCategory[] = ['admin', 'export', 'pay', 'delete', 'write', 'summarize', 'search', 'read'];
