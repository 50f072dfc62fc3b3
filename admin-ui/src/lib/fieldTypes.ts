import type { Field } from './types';

/** How one option of a field type is edited. */
export type OptionKind = 'int' | 'number?' | 'text' | 'bool' | 'list' | 'collection' | 'date' | 'size' | 'mimes' | 'thumbs';
// 'date' options are edited with a datetime-local input and stored as "YYYY-MM-DD HH:MM:SS.sssZ";
// 'size' is a byte count edited with a unit; 'mimes' and 'thumbs' are string lists edited as chips.
export type OptionSpec = { key: string; label: string; kind: OptionKind; hint?: string };

/** The options of each field type the API supports (PocketBase's names and defaults). */
export const TYPE_OPTIONS: Record<string, OptionSpec[]> = {
  text: [
    { key: 'min', label: 'Min length', kind: 'int' },
    { key: 'max', label: 'Max length', kind: 'int', hint: '0: no limit' },
    { key: 'pattern', label: 'Pattern (regex)', kind: 'text' },
    { key: 'autogeneratePattern', label: 'Autogenerate pattern', kind: 'text', hint: 'e.g. [a-z0-9]{15}' },
  ],
  number: [
    { key: 'min', label: 'Min', kind: 'number?' },
    { key: 'max', label: 'Max', kind: 'number?' },
    { key: 'onlyInt', label: 'Integers only', kind: 'bool' },
  ],
  bool: [],
  email: [
    { key: 'onlyDomains', label: 'Only domains', kind: 'list' },
    { key: 'exceptDomains', label: 'Except domains', kind: 'list' },
  ],
  url: [
    { key: 'onlyDomains', label: 'Only domains', kind: 'list' },
    { key: 'exceptDomains', label: 'Except domains', kind: 'list' },
  ],
  editor: [
    { key: 'maxSize', label: 'Max size (bytes)', kind: 'int', hint: '0: default' },
    { key: 'convertURLs', label: 'Convert URLs', kind: 'bool' },
  ],
  date: [
    { key: 'min', label: 'Min date', kind: 'date' },
    { key: 'max', label: 'Max date', kind: 'date' },
  ],
  autodate: [
    { key: 'onCreate', label: 'Set on create', kind: 'bool' },
    { key: 'onUpdate', label: 'Set on update', kind: 'bool' },
  ],
  select: [
    { key: 'values', label: 'Values', kind: 'list' },
    { key: 'maxSelect', label: 'Max select', kind: 'int', hint: '0 or 1: single' },
  ],
  json: [{ key: 'maxSize', label: 'Max size (bytes)', kind: 'int', hint: '0: default' }],
  relation: [
    { key: 'collectionId', label: 'Collection', kind: 'collection' },
    { key: 'minSelect', label: 'Min select', kind: 'int' },
    { key: 'maxSelect', label: 'Max select', kind: 'int', hint: '0 or 1: single' },
    { key: 'cascadeDelete', label: 'Cascade delete', kind: 'bool' },
  ],
  password: [
    { key: 'min', label: 'Min length', kind: 'int' },
    { key: 'max', label: 'Max length', kind: 'int', hint: '0: no limit' },
    { key: 'pattern', label: 'Pattern (regex)', kind: 'text' },
    { key: 'cost', label: 'Hash cost', kind: 'int', hint: '0: default, else 4–31' },
  ],
  geoPoint: [],
  file: [
    { key: 'maxSelect', label: 'Max files', kind: 'int', hint: '0 or 1: single' },
    { key: 'maxSize', label: 'Max size per file', kind: 'size' },
    { key: 'mimeTypes', label: 'Allowed MIME types', kind: 'mimes' },
    { key: 'thumbs', label: 'Thumb sizes', kind: 'thumbs' },
    { key: 'protected', label: 'Protected (downloads need a file token)', kind: 'bool' },
  ],
};

/** Types a new field can have: every type the API supports. */
export const NEW_FIELD_TYPES = [
  'text',
  'number',
  'bool',
  'email',
  'url',
  'editor',
  'date',
  'autodate',
  'select',
  'json',
  'relation',
  'password',
  'geoPoint',
  'file',
];

const DEFAULTS: Record<OptionKind, unknown> = {
  int: 0,
  'number?': null,
  text: '',
  bool: false,
  list: [],
  collection: '',
  date: '',
  size: 0,
  mimes: [],
  thumbs: [],
};

export function newField(type: string, name: string): Field {
  const f: Field = { name, type, required: false, hidden: false, presentable: false };
  for (const o of TYPE_OPTIONS[type] ?? []) f[o.key] = structuredClone(DEFAULTS[o.kind]);
  if (type === 'autodate') {
    f.onCreate = true;
    delete f.required;
  }
  if (type === 'file') f.maxSelect = 1;
  return f;
}
