// Writes .gz and .br siblings for every compressible file in dist/ so the server can pick one by
// Accept-Encoding. Uses only zlib; the output is deterministic (gzip header mtime is 0).
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const EXTS = new Set(['.js', '.css', '.html', '.svg', '.json']);
const root = new URL('../dist/', import.meta.url).pathname;

function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

for (const file of walk(root)) {
  if (!EXTS.has(extname(file))) continue;
  const data = readFileSync(file);
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
  writeFileSync(
    `${file}.br`,
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  );
}
