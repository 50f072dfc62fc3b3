// Every `@ts-expect-error` below must be needed: `tsc --strict` fails if the generated types
// stop rejecting the mistake on the next line.
import type {
  PostsCreate,
  PostsRecord,
  PostsUpdate,
  TypedPocketBase,
  UsersCreate,
  UsersRecord,
} from './ferrobase-types.js';

declare const pb: TypedPocketBase;
declare const post: PostsRecord;
declare const user: UsersRecord;

// @ts-expect-error a misspelled field name
export const misspelled: PostsCreate = { title: 't', status: 'draft', titel: 'x' };
// @ts-expect-error a select value that is not an option
export const badOption: PostsCreate = { title: 't', status: 'deleted' };
// @ts-expect-error a required field left out
export const noTitle: PostsCreate = { status: 'draft' };
// @ts-expect-error a string for a number
export const badNumber: PostsUpdate = { views: '3' };
// @ts-expect-error no modifier on a text field
export const textModifier: PostsUpdate = { 'title+': 'x' };
// @ts-expect-error a multi-select modifier with a value that is not an option
export const badTag: PostsUpdate = { 'tags+': 'sports' };
// @ts-expect-error a single select is not an array
export const statusList: PostsUpdate = { status: ['draft'] };
// @ts-expect-error a file field takes File | Blob
export const badFile: PostsCreate = { title: 't', status: 'draft', cover: 5 };
// @ts-expect-error a geoPoint needs lat
export const badPoint: PostsCreate = { title: 't', status: 'draft', location: { lon: 1 } };
// @ts-expect-error an auth create needs passwordConfirm
export const noConfirm: UsersCreate = { email: 'a@example.com', password: 'secret-123' };
// @ts-expect-error a multi relation takes ids, not one id
export const related: PostsCreate = { title: 't', status: 'draft', related: 'abc' };
// @ts-expect-error record fields are typed too
export const titleNumber: number = post.title;
// @ts-expect-error hidden fields are not rendered
export const secret = post.secret;
// @ts-expect-error passwords are never rendered
export const password = user.password;
// @ts-expect-error the expand keys are known
export const badExpand = post.expand?.autor;
// @ts-expect-error a back-relation expand is a list
export const commentText = post.expand?.comments_via_post?.text;
// @ts-expect-error collectionName is the collection's literal name
export const otherName: PostsRecord['collectionName'] = 'comments';
export async function viaSdk(): Promise<void> {
  const p = await pb.collection('posts').getOne('x');
  // @ts-expect-error records from pb.collection('posts') are PostsRecord
  p.statuss = 'draft';
  // @ts-expect-error and their select fields take only the options
  p.status = 'deleted';
}
