// Uses the generated types (ferrobase-types.ts) with the PocketBase JS SDK against a server with
// schema.json: `tsc --strict` must accept it, then node runs it (see run.sh).
import PocketBase from 'pocketbase';
import type {
  CommentsCreate,
  Collections,
  PostsCreate,
  PostsRecord,
  PostsStatusOptions,
  PostsUpdate,
  ProfilesCreate,
  TypedPocketBase,
  UsersCreate,
} from './ferrobase-types.js';

declare const process: { env: Record<string, string | undefined> };

function check(ok: boolean, what: string): void {
  if (!ok) {
    throw new Error(`check failed: ${what}`);
  }
}

/** Exhaustive over the select union: adding an option breaks compilation here. */
function label(status: PostsStatusOptions): string {
  switch (status) {
    case 'draft':
      return 'Draft';
    case 'published':
      return 'Published';
    case "it's archived":
      return 'Archived';
  }
}

async function main(): Promise<void> {
  const pb = new PocketBase(process.env.FERROBASE_URL ?? 'http://127.0.0.1:8090') as TypedPocketBase;
  const stamp = Date.now().toString(36);

  const userBody: UsersCreate = {
    email: `typegen-${stamp}@example.com`,
    password: 'typegen-password-1',
    passwordConfirm: 'typegen-password-1',
    name: 'Ada',
  };
  const user = await pb.collection('users').create(userBody);
  check(user.collectionName === 'users' && user.name === 'Ada', 'user created');
  // users may only view themselves: sign in, so expanding the author shows it.
  const auth = await pb.collection('users').authWithPassword(userBody.email, userBody.password);
  check(auth.record.id === user.id, 'signed in');

  const postBody: PostsCreate = {
    title: 'Typed',
    status: 'draft',
    tags: ['news'],
    views: 1,
    author: user.id,
    meta: { source: 'typegen' },
    location: { lon: 13.4, lat: 52.5 },
    cover: new File(['hello'], 'hello.txt', { type: 'text/plain' }),
  };
  const post: PostsRecord = await pb.collection('posts').create(postBody);
  check(post.status === 'draft' && post.views === 1, 'post created');
  check(post.cover.startsWith('hello'), `cover stored as a file name (${post.cover})`);
  check(post.location.lat === 52.5, 'geoPoint round-trips');

  const commentBody: CommentsCreate = { post: post.id, text: 'first!' };
  await pb.collection('comments').create(commentBody);
  const profileBody: ProfilesCreate = { user: user.id, bio: 'hi' };
  await pb.collection('profiles').create(profileBody);

  const change: PostsUpdate = { 'views+': 2, 'tags+': 'tech', status: 'published' };
  const updated = await pb.collection('posts').update(post.id, change);
  check(updated.views === 3, `views+ applied (${updated.views})`);
  check(updated.tags.join(',') === 'news,tech', `tags+ applied (${updated.tags.join(',')})`);
  check(label(updated.status) === 'Published', 'select union');

  const list = await pb.collection('posts').getList(1, 10, {
    filter: pb.filter('id = {:id}', { id: post.id }),
    expand: 'author,comments_via_post',
  });
  const first = list.items[0];
  check(list.totalItems === 1 && first !== undefined, 'list finds the post');
  const author = first.expand?.author;
  check(author?.id === user.id && author.email === userBody.email, 'expanded author');
  const comments = first.expand?.comments_via_post ?? [];
  check(comments.length === 1 && comments[0].text === 'first!', 'back-relation expand is a list');

  const withProfile = await pb.collection('users').getOne(user.id, { expand: 'profiles_via_user' });
  const profile = withProfile.expand?.profiles_via_user;
  check(profile?.bio === 'hi', 'unique back-relation expands as one record');

  const name: keyof Collections = 'comments';
  check((await pb.collection(name).getList(1, 1)).totalItems >= 1, 'collection by a Collections key');
  console.log('typegen program: ok');
}

main().catch((e: unknown) => {
  console.error(e);
  throw e;
});
