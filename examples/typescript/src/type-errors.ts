// Mistakes the generated types catch at compile time. Each `@ts-expect-error` must be needed:
// `tsc --strict` fails if the next line stops being an error (for example after a schema change
// that the regenerated types reflect).
import type { BooksCreate, BooksRecord, BooksUpdate, TypedPocketBase } from './ferrobase-types.js';

declare const pb: TypedPocketBase;
declare const book: BooksRecord;

// @ts-expect-error a misspelled field
export const misspelled: BooksCreate = { title: 't', author: 'a', genre: 'poetry', titel: 'x' };
// @ts-expect-error a select value that is not an option
export const badGenre: BooksCreate = { title: 't', author: 'a', genre: 'cookbook' };
// @ts-expect-error a required field left out
export const noTitle: BooksCreate = { author: 'a', genre: 'essay' };
// @ts-expect-error a string for a number
export const badPages: BooksUpdate = { pages: '300' };
// @ts-expect-error no `+` modifier on a text field
export const textPlus: BooksUpdate = { 'title+': '!' };
// @ts-expect-error records are typed: a title is a string
export const titleNumber: number = book.title;

/** collection() knows the record type per collection name. */
export async function authorPages(): Promise<number> {
  const a = await pb.collection('authors').getOne('x');
  // @ts-expect-error authors have no `pages`
  return a.pages;
}
