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
