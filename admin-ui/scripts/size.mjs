// Prints what the dashboard costs: the first load (index.html plus the JS and CSS it references,
// compressed as the server sends them) and the bytes embedded in the binary (every file of dist/,
// including the .gz/.br siblings rust-embed carries). Run after `npm run build`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../dist/', import.meta.url).pathname;
const size = (p) => statSync(p).size;
const html = readFileSync(join(root, 'index.html'), 'utf8');
const refs = [...html.matchAll(/(?:src|href)="\/_\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
const first = ['index.html', ...refs];
const sum = (suffix) => first.reduce((n, f) => n + size(join(root, f + suffix)), 0);
const jsCss = (suffix) => refs.reduce((n, f) => n + size(join(root, f + suffix)), 0);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const embedded = walk(root).reduce((n, p) => n + size(p), 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`first load files: ${first.join(', ')}`);
console.log(`JS+CSS raw ${kb(jsCss(''))}, gzip ${kb(jsCss('.gz'))}, brotli ${kb(jsCss('.br'))}`);
console.log(`with index.html: gzip ${kb(sum('.gz'))}, brotli ${kb(sum('.br'))}`);
console.log(`embedded in the binary (all of dist/): ${kb(embedded)}`);
