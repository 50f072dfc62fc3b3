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

/** A create body with every field a client sets (no autodates, ids, token keys or files). */
export function exampleBody(c: Collection): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of c.fields) {
    if (f.type === 'autodate' || f.type === 'file' || f.name === 'id' || f.name === 'tokenKey') continue;
    body[f.name] = example(f);
  }
  if (c.type === 'auth' && 'password' in body) body.passwordConfirm = body.password;
  return body;
}

const fileFields = (c: Collection) => c.fields.filter((f) => f.type === 'file');
const multiFile = (f: Field) => Number(f.maxSelect ?? 0) > 1;
const exampleFileName = (f: Field) => {
  const mimes = Array.isArray(f.mimeTypes) ? f.mimeTypes.map(String) : [];
  return mimes.length === 0 || mimes.some((m) => m.startsWith('image/')) ? `${f.name}.png` : `${f.name}.pdf`;
};
/** The upload key: `f` replaces (single files, or on create), `f+` appends on update. */
const uploadKey = (f: Field, update: boolean) => (update && multiFile(f) ? `${f.name}+` : f.name);

/** Multipart curl arguments: JSON values in `@jsonPayload` (as the JS SDK sends them), files as parts. */
function curlMultipart(c: Collection, update: boolean): string {
  const lines = [`  -F ${q(`@jsonPayload=${JSON.stringify(exampleBody(c))}`)}`];
  for (const f of fileFields(c)) lines.push(`  -F ${q(`${uploadKey(f, update)}=@./${exampleFileName(f)}`)}`);
  let out = lines.join(' \\\n');
  if (update) {
    const f = fileFields(c)[0];
    out += `\n# remove stored files by name: -F ${q(`${f.name}-=STORED_NAME`)}`;
  }
  return out;
}

/** The SDK body as source text; file fields take File/Blob values (the SDK then sends multipart). */
function jsBody(c: Collection, update: boolean): string {
  const json = JSON.stringify(exampleBody(c), null, 2);
  const files = fileFields(c);
  if (!files.length) return json;
  const lines = files.map((f) => {
    const file = `new File([bytes], '${exampleFileName(f)}')`;
    return `  "${uploadKey(f, update)}": ${multiFile(f) ? `[${file}]` : file},`;
  });
  const inner = json === '{}' ? '' : `${json.slice(2, -2)},\n`;
  const remove = update ? `\n  // remove stored files by name: "${files[0].name}-": ['STORED_NAME'],` : '';
  return `{\n${inner}  // File or Blob values (bytes: your data, or input.files[0] in a browser): the SDK sends multipart\n${lines.join('\n')}${remove}\n}`;
}

/** How to build a file's URL, for the view snippets of collections with files. */
function fileUrlHint(c: Collection, lang: 'curl' | 'js'): string {
  const f = fileFields(c)[0];
  if (!f) return '';
  const token = c.fields.some((x) => x.type === 'file' && x.protected === true);
  if (lang === 'js') {
    return (
      `\n// a file's URL (${token ? 'protected files: add { token: await pb.files.getToken() }' : 'thumbs of images: { thumb: \'100x100\' }'}):\n` +
      `const url = pb.files.getURL(record, ${multiFile(f) ? `record.${f.name}[0]` : `record.${f.name}`}, { thumb: '100x100' });`
    );
  }
  return `\n# files: /api/files/${c.id}/RECORD_ID/STORED_NAME?thumb=100x100${token ? ' (protected: &token= from POST /api/files/token)' : ''}`;
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
      return `curl ${q(`${base}/RECORD_ID`)} \\\n${auth}${fileUrlHint(c, 'curl')}`;
    case 'create':
      if (fileFields(c).length) return `curl -X POST ${q(base)} \\\n${auth} \\\n${curlMultipart(c, false)}`;
      return `curl -X POST ${q(base)} \\\n${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d ${q(json)}`;
    case 'update':
      if (fileFields(c).length) return `curl -X PATCH ${q(`${base}/RECORD_ID`)} \\\n${auth} \\\n${curlMultipart(c, true)}`;
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

  switch (op) {
    case 'list':
      return `${head}\nconst page = await ${col}.getList(1, 30, {\n  filter: '',\n  sort: '-id',\n});\n// or every record: await ${col}.getFullList();`;
    case 'view':
      return `${head}\nconst record = await ${col}.getOne('RECORD_ID');${fileUrlHint(c, 'js')}`;
    case 'create':
      return `${head}\nconst record = await ${col}.create(${jsBody(c, false)});`;
    case 'update':
      return `${head}\nconst record = await ${col}.update('RECORD_ID', ${jsBody(c, true)});`;
    case 'delete':
      return `${head}\nawait ${col}.delete('RECORD_ID');`;
    case 'realtime':
      return `${head}\n// Server-sent events, PocketBase-compatible:\nconst unsubscribe = await ${col}.subscribe('*', (e) => {\n  console.log(e.action, e.record);\n});`;
  }
}
