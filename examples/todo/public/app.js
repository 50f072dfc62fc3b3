// The todo app: the unmodified PocketBase JS SDK (vendored, no CDN) against the Ferrobase that
// serves this page. Sign-up and login with the `users` auth collection; the `todos` rules
// (schema.json) let each user see and change only their own todos; live updates through
// pb.collection("todos").subscribe("*"), so a second tab (or device) sees changes at once.
import PocketBase from "./vendor/pocketbase.es.mjs";

const pb = new PocketBase(location.origin);
const $ = (id) => document.getElementById(id);
const todos = new Map(); // id -> record, in display order
let unsubscribe = null;

function showError(err) {
  const data = err?.response?.data || {};
  const fields = Object.entries(data).map(([k, v]) => `${k}: ${v.message}`);
  $("error").textContent = err ? [err.message, ...fields].join(" — ") : "";
}

function render() {
  const list = $("todos");
  list.replaceChildren(
    ...[...todos.values()].map((t) => {
      const li = document.createElement("li");
      li.dataset.id = t.id;
      li.className = t.done ? "done" : "";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !!t.done;
      box.setAttribute("aria-label", `Done: ${t.title}`);
      box.addEventListener("change", () =>
        pb.collection("todos").update(t.id, { done: box.checked }).catch(showError),
      );
      const title = document.createElement("span");
      title.textContent = t.title; // text, never HTML
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete ${t.title}`);
      del.addEventListener("click", () => pb.collection("todos").delete(t.id).catch(showError));
      li.append(box, title, del);
      return li;
    }),
  );
  $("empty").hidden = todos.size > 0;
}

function apply({ action, record }) {
  if (action === "delete") todos.delete(record.id);
  else todos.set(record.id, { ...todos.get(record.id), ...record });
  render();
}

async function showApp() {
  $("auth").hidden = true;
  $("app").hidden = false;
  $("me").textContent = pb.authStore.record.email;
  shownUser = pb.authStore.record.id;
  // Subscribe first, then load: an event racing the load is applied to the same map.
  unsubscribe = await pb.collection("todos").subscribe("*", apply);
  const items = await pb.collection("todos").getFullList({ sort: "created,id" });
  for (const t of items) if (!todos.has(t.id)) todos.set(t.id, t);
  render();
  document.body.dataset.ready = "app";
}

function showAuth() {
  $("app").hidden = true;
  $("auth").hidden = false;
  document.body.dataset.ready = "auth";
}

async function login(email, password) {
  await pb.collection("users").authWithPassword(email, password);
  await showApp();
}

$("auth-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError(null);
  try {
    await login($("email").value, $("password").value);
  } catch (err) {
    showError(err);
  }
});

$("signup").addEventListener("click", async () => {
  showError(null);
  if (!$("auth-form").reportValidity()) return;
  const email = $("email").value;
  const password = $("password").value;
  try {
    await pb.collection("users").create({ email, password, passwordConfirm: password });
    await login(email, password);
  } catch (err) {
    showError(err);
  }
});

$("logout").addEventListener("click", async () => {
  if (unsubscribe) await unsubscribe().catch(() => {});
  unsubscribe = null;
  shownUser = null;
  pb.authStore.clear();
  todos.clear();
  render();
  showAuth();
});

$("new-todo").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError(null);
  const input = $("title");
  try {
    // The create rule requires `user` to be the caller; the live event adds it to the list.
    const rec = await pb.collection("todos").create({ title: input.value, user: pb.authStore.record.id });
    apply({ action: "create", record: rec });
    input.value = "";
  } catch (err) {
    showError(err);
  }
});

// Another tab logged in or out (the SDK keeps its auth store in localStorage and follows other
// tabs' changes): show the new state. A token refresh of the same user changes nothing here.
let shownUser = null;
pb.authStore.onChange(() => {
  const now = pb.authStore.isValid ? pb.authStore.record?.id : null;
  if (shownUser !== null && now !== shownUser) location.reload();
});

if (pb.authStore.isValid) {
  pb.collection("users")
    .authRefresh()
    .then(showApp)
    .catch(() => {
      pb.authStore.clear();
      showAuth();
    });
} else {
  showAuth();
}
