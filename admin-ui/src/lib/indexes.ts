/**
 * Index statements as the API keeps them (`CREATE [UNIQUE] INDEX name ON coll (a, b) [WHERE …]`),
 * edited as rows: a name, unique or not, and the columns in order. A statement the row form cannot
 * show faithfully (COLLATE, ASC/DESC) is kept as raw SQL.
 */
export type IndexRow = {
  uid: string;
  name: string;
  unique: boolean;
  columns: string[];
  /** Everything after the column list, e.g. `WHERE title != ''`; kept as written. */
  tail: string;
  /** The statement itself when it is not a plain column list. */
  raw: string | null;
};

let seq = 0;
const uid = () => `ix${++seq}`;

const STMT =
  /^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"[]?(\w+)[`"\]]?\s+ON\s+[`"[]?\w+[`"\]]?\s*\(([^)]*)\)\s*(.*?)\s*;?\s*$/is;

function unquote(col: string): string | null {
  const m = col.trim().match(/^[`"[]?(\w+)[`"\]]?$/);
  return m ? m[1] : null;
}

export function parseIndex(sql: string): IndexRow {
  const m = sql.match(STMT);
  if (m) {
    const cols = m[3].split(',').map(unquote);
    if (cols.every((c): c is string => c !== null)) {
      return { uid: uid(), name: m[2], unique: !!m[1], columns: cols, tail: m[4] ?? '', raw: null };
    }
  }
  return { uid: uid(), name: '', unique: false, columns: [], tail: '', raw: sql };
}

export function newIndex(collection: string, taken: string[]): IndexRow {
  let n = 1;
  while (taken.includes(`idx_${collection}_${n}`)) n++;
  return { uid: uid(), name: `idx_${collection || 'c'}_${n}`, unique: false, columns: [], tail: '', raw: null };
}

export function renderIndex(row: IndexRow, collection: string): string {
  if (row.raw !== null) return row.raw.trim();
  const cols = row.columns.map((c) => `\`${c}\``).join(', ');
  const tail = row.tail.trim() ? ` ${row.tail.trim()}` : '';
  return `CREATE ${row.unique ? 'UNIQUE ' : ''}INDEX \`${row.name.trim()}\` ON \`${collection}\` (${cols})${tail}`;
}
