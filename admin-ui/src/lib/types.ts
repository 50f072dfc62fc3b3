/** The collection shape returned by /api/collections (PocketBase 0.23+ wire format). */
export type Field = {
  id?: string;
  name: string;
  type: string;
  system?: boolean;
  hidden?: boolean;
  required?: boolean;
  presentable?: boolean;
  [option: string]: unknown;
};

export type Collection = {
  id: string;
  name: string;
  type: 'base' | 'auth' | 'view' | string;
  system: boolean;
  fields: Field[];
  indexes: string[];
  listRule: string | null;
  viewRule: string | null;
  createRule: string | null;
  updateRule: string | null;
  deleteRule: string | null;
  authRule?: string | null;
  manageRule?: string | null;
  [key: string]: unknown;
};

export type RecordRow = { id: string; collectionId: string; collectionName: string; [key: string]: unknown };

export const RULES = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const;
export const AUTH_RULES = ['authRule', 'manageRule'] as const;
export type RuleKey = (typeof RULES)[number] | (typeof AUTH_RULES)[number];

export type WebhookStatus = {
  state: 'active' | 'disabled' | 'backlogged' | 'failing' | string;
  cursor: number;
  lag: number;
  pending: number;
  consecutiveFailures: number;
  deliveredSinceStart: number;
  failedSinceStart: number;
  lastError: string | null;
};

/** A webhook as /api/webhooks shows it: collections by name, with its live status. */
export type Webhook = {
  id: string;
  name: string;
  url: string;
  collections: string[];
  actions: string[];
  filter: string;
  secret: string;
  enabled: boolean;
  headers: Record<string, string>;
  timeout: number;
  created: string;
  updated: string;
  plugin?: string;
  status: WebhookStatus;
};

export type Attempt = {
  at: string;
  statusCode: number | null;
  durationMs: number;
  responseExcerpt: string;
  error: string | null;
};

export type Delivery = {
  id: string;
  webhookId: string;
  eventId: string;
  seq: number | null;
  type: string;
  status: 'pending' | 'retrying' | 'delivered' | 'failed' | string;
  attempts: Attempt[];
  nextAttemptAt: string | null;
  created: string;
  updated: string;
  payload: unknown;
};

export const WEBHOOK_ACTIONS = ['create', 'update', 'delete'] as const;

export const RULE_LABELS: Record<RuleKey, string> = {
  listRule: 'List/Search rule',
  viewRule: 'View rule',
  createRule: 'Create rule',
  updateRule: 'Update rule',
  deleteRule: 'Delete rule',
  authRule: 'Auth rule',
  manageRule: 'Manage rule',
};

/** A rule being edited: `locked` means null (superusers only); an empty text means everyone. */
export type RuleDraft = { locked: boolean; text: string };

export function ruleValue(d: RuleDraft | undefined): string | null {
  if (!d || d.locked) return null;
  return d.text;
}
