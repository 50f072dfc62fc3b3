import type { Collection, Field } from './types';

export type Op = 'list' | 'view' | 'create' | 'update' | 'delete' | 'realtime';
export const OPS: { op: Op; title: string; rule: keyof Collection | null }[] = [
  { op: 'list', title: 'List / search', rule: 'listRule' },
  { op: 'view', title: 'View one', rule: 'viewRule' },
  { op: 'create', title: 'Create', rule: 'createRule' },
  { op: 'update', title: 'Update', rule: 'updateRule' },
  { op: 'delete', title: 'Delete', rule: 'deleteRule' },
  { op: 'realtime', title: 'Realtime', rule: 'listRule' },
];

/** An example value of a field for request bodies. */
function example(f: Field): unknown {
  switch (f.type) {
    case 'number':
      return 1;
    case 'bool':
      return true;
    case 'email':
      return 'someone@example.com';
    case 'url':
      return 'https://example.com';
    case 'date':
      return '2025-01-31 12:00:00.000Z';
    case 'select': {
      const v = Array.isArray(f.values) ? f.values : [];
      return Number(f.maxSelect ?? 0) > 1 ? v.slice(0, 1) : (v[0] ?? '');
    }
    case 'relation':
      return Number(f.maxSelect ?? 0) > 1 ? ['RELATED_ID'] : 'RELATED_ID';
    case 'json':
      return { any: 'json' };
    case 'geoPoint':
      return { lon: 13.4, lat: 52.52 };
    case 'password':
      return 'a-long-password';
    default:
      return 'text';
  }
}

/** A create body with every field a client sets (no autodates, ids or token keys). */
export function exampleBody(c: Collection): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of c.fields) {
    if (f.type === 'autodate' || f.name === 'id' || f.name === 'tokenKey') continue;
    body[f.name] = example(f);
  }
  if (c.type === 'auth' && 'password' in body) body.passwordConfirm = body.password;
  return body;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function curl(op: Op, c: Collection, origin: string): string {
  const base = `${origin}/api/collections/${c.name}/records`;
  const auth = '  -H "Authorization: $TOKEN"';
  const json = JSON.stringify(exampleBody(c));
  switch (op) {
    case 'list':
      return `curl ${q(`${base}?page=1&perPage=30&sort=-id`)} \\\n${auth}\n# optional: &filter=... &expand=... &fields=...`;
    case 'view':
      return `curl ${q(`${base}/RECORD_ID`)} \\\n${auth}`;
    case 'create':
      return `curl -X POST ${q(base)} \\\n${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d ${q(json)}`;
    case 'update':
      return `curl -X PATCH ${q(`${base}/RECORD_ID`)} \\\n${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d ${q(json)}`;
    case 'delete':
      return `curl -X DELETE ${q(`${base}/RECORD_ID`)} \\\n${auth}`;
    case 'realtime':
      return (
        `# WebSocket protocol (resume with "since"), e.g. with websocat:\n` +
        `websocat ${q(`${origin.replace(/^http/, 'ws')}/api/realtime/ws`)}\n` +
        `{"type":"auth","token":"TOKEN"}\n` +
        `{"type":"subscribe","id":"s1","topic":"${c.name}/*"}`
      );
  }
}

export function js(op: Op, c: Collection, origin: string): string {
  const head = `import PocketBase from 'pocketbase';\n\nconst pb = new PocketBase('${origin}');\n`;
  const col = `pb.collection('${c.name}')`;
  const body = JSON.stringify(exampleBody(c), null, 2).replace(/\n/g, '\n');
  switch (op) {
    case 'list':
      return `${head}\nconst page = await ${col}.getList(1, 30, {\n  filter: '',\n  sort: '-id',\n});\n// or every record: await ${col}.getFullList();`;
    case 'view':
      return `${head}\nconst record = await ${col}.getOne('RECORD_ID');`;
    case 'create':
      return `${head}\nconst record = await ${col}.create(${body});`;
    case 'update':
      return `${head}\nconst record = await ${col}.update('RECORD_ID', ${body});`;
    case 'delete':
      return `${head}\nawait ${col}.delete('RECORD_ID');`;
    case 'realtime':
      return `${head}\n// Server-sent events, PocketBase-compatible:\nconst unsubscribe = await ${col}.subscribe('*', (e) => {\n  console.log(e.action, e.record);\n});`;
  }
}
