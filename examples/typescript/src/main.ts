// A typed program against Ferrobase: the PocketBase JS SDK with the types `ferrobase typegen`
// generated from this server's schema (src/ferrobase-types.ts; run.sh regenerates it). Every
// record, create body, update body (with modifiers like 'pages+') and expand is checked by
// `tsc --strict`; src/type-errors.ts shows mistakes the compiler now rejects.
import PocketBase from 'pocketbase';
import type {
  AuthorsCreate,
  AuthorsRecord,
  BooksCreate,
  BooksGenreOptions,
  BooksRecord,
  BooksUpdate,
  TypedPocketBase,
} from './ferrobase-types.js';

declare const process: { env: Record<string, string | undefined>; exitCode?: number };

/** Exhaustive over the select's options: a new option in the schema breaks compilation here. */
function shelf(genre: BooksGenreOptions): string {
  switch (genre) {
    case 'fiction':
      return 'Fiction';
    case 'poetry':
      return 'Poetry';
    case 'essay':
      return 'Essays';
  }
}

const AUTHORS: AuthorsCreate[] = [
  { name: 'Ursula K. Le Guin', born: 1929 },
  { name: 'Mary Oliver', born: 1935 },
];

async function author(pb: TypedPocketBase, body: AuthorsCreate): Promise<AuthorsRecord> {
  const found = await pb
    .collection('authors')
    .getList(1, 1, { filter: pb.filter('name = {:name}', { name: body.name }) });
  return found.items[0] ?? (await pb.collection('authors').create(body));
}

async function main(): Promise<void> {
  const pb = new PocketBase(process.env.FB_URL ?? 'http://127.0.0.1:8090') as TypedPocketBase;
  await pb
    .collection('_superusers')
    .authWithPassword(process.env.FB_EMAIL ?? '', process.env.FB_PASSWORD ?? '');

  // One at a time: the SDK cancels a pending request when the same one starts again.
  const leGuin = await author(pb, AUTHORS[0]);
  const oliver = await author(pb, AUTHORS[1]);
  const books: BooksCreate[] = [
    { title: 'The Dispossessed', author: leGuin.id, genre: 'fiction', pages: 387, tags: ['utopia'] },
    { title: 'A Wizard of Earthsea', author: leGuin.id, genre: 'fiction', pages: 183 },
    { title: 'Devotions', author: oliver.id, genre: 'poetry', pages: 455, tags: { award: null } },
    { title: 'Upstream', author: oliver.id, genre: 'essay', pages: 178 },
  ];
  const existing = await pb.collection('books').getFullList();
  for (const body of books) {
    if (!existing.some((b) => b.title === body.title)) await pb.collection('books').create(body);
  }

  // An update with a number modifier, typed: `pages+` exists because `pages` is a number.
  const earthsea = await pb
    .collection('books')
    .getFirstListItem(pb.filter('title = {:t}', { t: 'A Wizard of Earthsea' }));
  const more: BooksUpdate = { 'pages+': 22 };
  const updated: BooksRecord = await pb.collection('books').update(earthsea.id, more);

  const list = await pb.collection('books').getFullList({ sort: 'genre,title', expand: 'author' });
  for (const b of list) {
    // `b.expand?.author` is an AuthorsRecord: its fields are typed too.
    const by = b.expand?.author;
    const age = by ? ` (b. ${by.born})` : '';
    console.log(`${shelf(b.genre)}: ${b.title} by ${by?.name ?? b.author}${age}, ${b.pages} pages`);
  }
  console.log(`Earthsea now has ${updated.pages} pages; ${list.length} books.`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
