import { ACTION_CATEGORIES, normalizeIntent, toolCategory } from './intent';

describe('normalizeIntent', () => {
  it.each(ACTION_CATEGORIES.map((c) => [c]))('takes the explicit category "%s" as it is', (c) => {
    expect(normalizeIntent(c)).toBe(c);
  });

  it.each([
    ['an explicit category wins over the text', 'read', 'delete everything', 'read'],
    ['a category outside the vocabulary falls back to the text', 'destroy', 'remove the draft', 'delete'],
    ['a category in another case is not a category', 'READ', undefined, 'unknown'],
    ['neither category nor text is unknown', undefined, undefined, 'unknown'],
    ['an empty category and empty text are unknown', '', '', 'unknown'],
    ['text with no known verb is unknown', undefined, 'hello there', 'unknown'],
  ])('%s', (_name, category, text, expected) => {
    expect(normalizeIntent(category, text)).toBe(expected);
  });

  it.each([
    ['Summarize my inbox', 'summarize'],
    ['give me a digest of the week', 'summarize'],
    ['TL;DR of the thread', 'summarize'],
    ['export the report', 'export'],
    ['download the invoices', 'export'],
    ['forward this to Bob', 'export'],
    ['email the team', 'export'],
    ['delete order 42', 'delete'],
    ['cancel my subscription', 'delete'],
    ['purge old logs', 'delete'],
    ['pay the supplier', 'pay'],
    ['transfer 100 EUR', 'pay'],
    ['refund the customer', 'pay'],
    ['grant Bob the editor role', 'admin'],
    ['configure the webhook', 'admin'],
    ['search for flights', 'search'],
    ['look up the customer', 'search'],
    ['lookup the customer', 'search'],
    ['create a meeting', 'write'],
    ['schedule a call with Ann', 'write'],
    ['book a room', 'write'],
    ['read the calendar', 'read'],
    ['list my orders', 'read'],
    ['check the status', 'read'],
    ['READ THE CALENDAR', 'read'],
  ])('reads "%s" as %s', (text, expected) => {
    expect(normalizeIntent(undefined, text)).toBe(expected);
  });

  it.each([
    ['matches verbs at the start of a word only: "display" is not "pay"', 'display the chart', 'unknown'],
    ['matches word prefixes: "payments" is "pay"', 'payments overview', 'pay'],
    ['with several verbs takes the first category of the vocabulary, not the first word of the text', 'read then delete the file', 'delete'],
  ])('%s', (_name, text, expected) => {
    expect(normalizeIntent(undefined, text)).toBe(expected);
  });
});

describe('toolCategory', () => {
  const overrides = {
    'crm/sync_contacts': 'read',
    'crm/*': 'write',
    'ledger/*': 'pay',
    'docs/open_document': 'not-a-category',
    'other/list_orders': 'admin',
  };

  it.each([
    ['an override for "server/tool" wins over the name', 'crm', 'sync_contacts', 'read'],
    ['an override for "server/tool" wins over "server/*"', 'crm', 'sync_contacts', 'read'],
    ['an override for "server/*" covers the server\'s other tools', 'crm', 'list_contacts', 'write'],
    ['an override for "server/*" covers a tool whose name says nothing', 'ledger', 'frobnicate', 'pay'],
    ['an override outside the vocabulary is ignored and the name decides', 'docs', 'open_document', 'read'],
    ['an override for another server does not apply', 'orders', 'list_orders', 'read'],
    ['an override for "server/tool" applies to that server only', 'other', 'list_orders', 'admin'],
  ])('%s', (_name, server, tool, expected) => {
    expect(toolCategory(server, tool, overrides)).toBe(expected);
  });

  it.each([
    ['list_events', 'read'],
    ['read_order', 'read'],
    ['get_document', 'read'],
    ['find_slots', 'search'],
    ['search_contacts', 'search'],
    ['summarize_thread', 'summarize'],
    ['create_event', 'write'],
    ['update_ticket', 'write'],
    ['export_calendars', 'export'],
    ['sync_contacts', 'export'],
    ['send_email', 'export'],
    ['delete_order', 'delete'],
    ['drop_table', 'delete'],
    ['transfer_funds', 'pay'],
    ['grant_role', 'admin'],
    ['provision_user', 'admin'],
  ])('reads the snake_case tool %s as %s', (tool, expected) => {
    expect(toolCategory('s', tool)).toBe(expected);
  });

  it.each([
    ['listEvents', 'read'],
    ['getDocument', 'read'],
    ['searchContacts', 'search'],
    ['createEvent', 'write'],
    ['exportCalendars', 'export'],
    ['deleteOrder', 'delete'],
    ['transferFunds', 'pay'],
    ['grantRole', 'admin'],
  ])('reads the camelCase tool %s as %s', (tool, expected) => {
    expect(toolCategory('s', tool)).toBe(expected);
  });

  it.each([
    ['delete-order', 'delete'],
    ['calendar.read', 'read'],
    ['ReadOrder', 'read'],
  ])('splits kebab-case, dotted and PascalCase names: %s is %s', (tool, expected) => {
    expect(toolCategory('s', tool)).toBe(expected);
  });

  it.each([['frobnicate'], ['rm_rf'], ['exec_shell'], ['displayName'], ['reset_cache'], ['v2Read'], ['']])(
    'counts the unknown tool "%s" as admin, the most guarded category',
    (tool) => {
      expect(toolCategory('s', tool)).toBe('admin');
    },
  );

  it.each([
    ['email_digest', 'export'],
    ['sendDigest', 'export'],
    ['summarize_and_delete', 'delete'],
    ['find_and_update', 'write'],
    ['lookup_and_transfer', 'pay'],
    ['delete_and_grant_role', 'admin'],
    ['get_or_create', 'write'],
    ['list_payments', 'pay'],
  ])('reads the multi-verb tool %s as its most guarded category, %s', (tool, expected) => {
    expect(toolCategory('s', tool)).toBe(expected);
  });

  it('never guesses a category outside the vocabulary', () => {
    for (const tool of ['x', 'read', 'deleteAll', 'a_b_c', 'PAY', 'summaryExport']) {
      expect(ACTION_CATEGORIES).toContain(toolCategory('s', tool));
    }
  });
});
