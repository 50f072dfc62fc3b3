#!/usr/bin/env python3
"""Create or update Ferrobase (or PocketBase) collections from a JSON schema file.

    python3 examples/schema-import/apply.py schema.json \
        --url http://127.0.0.1:8090 --email admin@example.com --password '...'

The file is {"collections": [ {collection}, ... ]} (or just the list). Each collection is written
the way the collections API takes it (name, type, fields, indexes, the five rules, ...), with one
convenience: a relation field may name its target with "collection": "<name>" instead of
"collectionId": "<id>".

Idempotent: a collection that does not exist is created; one that exists is compared with the
file (only the keys the file sets; fields matched by name) and updated only when something
differs; a second run prints "unchanged" for every collection and sends no writes. Fields that
exist on the server but not in the file are kept (and listed), never dropped.

Standard library only. Exit status: 0 applied, 1 the server refused something (its message and
field errors are printed), 2 bad usage or an unreadable/invalid file.
"""

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

COLLECTION_KEYS_IGNORED = {"fields"}


class ApiError(Exception):
    def __init__(self, method, path, status, body):
        self.method, self.path, self.status, self.body = method, path, status, body
        super().__init__(f"{method} {path} -> {status}")

    def describe(self):
        lines = [f"{self.method} {self.path} failed with HTTP {self.status}"]
        body = self.body if isinstance(self.body, dict) else {}
        if body.get("message"):
            lines.append(f"  {body['message']}")
        for path, err in flatten_errors(body.get("data") or {}):
            lines.append(f"  {path}: {err.get('message', '')} ({err.get('code', '?')})")
        if not body and self.body:
            lines.append(f"  {str(self.body)[:500]}")
        return "\n".join(lines)


def flatten_errors(data, prefix=""):
    """PocketBase's nested field errors as (path, {code, message}) pairs."""
    if isinstance(data, dict) and "code" in data and "message" in data:
        yield prefix, data
        return
    if isinstance(data, dict):
        for key, value in data.items():
            yield from flatten_errors(value, f"{prefix}.{key}" if prefix else str(key))


class Client:
    def __init__(self, url, timeout=30):
        self.url = url.rstrip("/")
        self.token = ""
        self.timeout = timeout

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                raw = res.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise ApiError(method, path, err.code, parsed) from None

    def login(self, email, password):
        res = self.request(
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {"identity": email, "password": password},
        )
        self.token = res["token"]

    def get_collection(self, name):
        try:
            return self.request("GET", "/api/collections/" + urllib.parse.quote(name, safe=""))
        except ApiError as err:
            if err.status == 404:
                return None
            raise


def load_schema(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as err:
        raise SystemExit(usage_error(f"cannot read {path}: {err.strerror}"))
    except ValueError as err:
        raise SystemExit(usage_error(f"{path} is not valid JSON: {err}"))
    cols = doc.get("collections") if isinstance(doc, dict) else doc
    if not isinstance(cols, list):
        raise SystemExit(usage_error(f'{path}: expected {{"collections": [...]}} or a list'))
    seen = set()
    for i, col in enumerate(cols):
        where = f"{path}: collections[{i}]"
        if not isinstance(col, dict) or not isinstance(col.get("name"), str) or not col["name"]:
            raise SystemExit(usage_error(f"{where}: every collection needs a \"name\""))
        if col["name"] in seen:
            raise SystemExit(usage_error(f"{where}: collection {col['name']!r} appears twice"))
        seen.add(col["name"])
        fields = col.get("fields", [])
        if not isinstance(fields, list):
            raise SystemExit(usage_error(f"{where}: \"fields\" must be a list"))
        names = set()
        for j, field in enumerate(fields):
            if not isinstance(field, dict) or not isinstance(field.get("name"), str):
                raise SystemExit(usage_error(f"{where}.fields[{j}]: every field needs a \"name\""))
            if field["name"] in names:
                raise SystemExit(usage_error(f"{where}.fields[{j}]: field {field['name']!r} appears twice"))
            names.add(field["name"])
    return cols


def usage_error(msg):
    print(f"error: {msg}", file=sys.stderr)
    return 2


def resolve_relations(client, col, ids):
    """Replaces "collection": "<name>" in relation fields with "collectionId"."""
    out = []
    for field in col.get("fields", []):
        field = dict(field)
        target = field.pop("collection", None)
        if target is not None:
            if target not in ids:
                existing = client.get_collection(target)
                if existing is None:
                    raise SystemExit(
                        usage_error(
                            f"{col['name']}.{field['name']}: relation target {target!r} does not "
                            "exist (list it earlier in the file or create it first)"
                        )
                    )
                ids[target] = existing["id"]
            field["collectionId"] = ids[target]
        out.append(field)
    return out


def subset_differs(want, have):
    """True if a key `want` sets has another value in `have` (recursively for objects)."""
    if isinstance(want, dict) and isinstance(have, dict):
        return any(subset_differs(v, have.get(k)) for k, v in want.items())
    return want != have


def plan_update(want, have):
    """The PATCH body that makes `have` look like `want`, and what changes; ({}, []) if none."""
    changes = []
    body = {}
    for key, value in want.items():
        if key in COLLECTION_KEYS_IGNORED:
            continue
        if key == "indexes":
            if sorted(value or []) != sorted(have.get("indexes") or []):
                body[key] = value
                changes.append("indexes")
        elif subset_differs(value, have.get(key)):
            body[key] = value
            changes.append(key)
    if "fields" in want:
        have_fields = have.get("fields") or []
        by_name = {f["name"]: f for f in have_fields}
        wanted_names = {f["name"] for f in want["fields"]}
        merged, field_changes = [], []
        # Server fields the file does not mention keep their place (system fields, extra fields).
        for f in have_fields:
            if f["name"] not in wanted_names:
                merged.append(f)
        for f in want["fields"]:
            cur = by_name.get(f["name"])
            if cur is None:
                merged.append(f)
                field_changes.append(f"+{f['name']}")
            elif subset_differs(f, cur):
                merged.append({**cur, **f})
                field_changes.append(f"~{f['name']}")
            else:
                merged.append(cur)
        if field_changes:
            body["fields"] = merged
            changes.append("fields " + " ".join(field_changes))
    return body, changes


def apply(client, cols, dry_run=False, out=sys.stdout):
    ids = {}
    summary = {"created": 0, "updated": 0, "unchanged": 0}
    for col in cols:
        want = dict(col)
        if "fields" in col:
            want["fields"] = resolve_relations(client, col, ids)
        have = client.get_collection(col["name"])
        if have is None:
            if dry_run:
                print(f"would create {col['name']}", file=out)
            else:
                created = client.request("POST", "/api/collections", want)
                ids[col["name"]] = created["id"]
                print(f"created   {col['name']} ({created['id']})", file=out)
            summary["created"] += 1
            continue
        ids[col["name"]] = have["id"]
        body, changes = plan_update(want, have)
        extra = [
            f["name"]
            for f in have.get("fields") or []
            if not f.get("system") and f["name"] not in {w["name"] for w in want.get("fields", [])}
        ]
        note = f" (kept fields not in the file: {', '.join(extra)})" if extra and "fields" in want else ""
        if not body:
            print(f"unchanged {col['name']}{note}", file=out)
            summary["unchanged"] += 1
            continue
        if dry_run:
            print(f"would update {col['name']}: {'; '.join(changes)}{note}", file=out)
        else:
            client.request("PATCH", "/api/collections/" + urllib.parse.quote(have["id"], safe=""), body)
            print(f"updated   {col['name']}: {'; '.join(changes)}{note}", file=out)
        summary["updated"] += 1
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description="Create or update collections from a JSON schema file.")
    p.add_argument("schema", help="JSON file: {\"collections\": [...]}")
    p.add_argument("--url", default="http://127.0.0.1:8090", help="server base URL")
    p.add_argument("--email", required=True, help="superuser email")
    p.add_argument("--password", required=True, help="superuser password")
    p.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    args = p.parse_args(argv)

    cols = load_schema(args.schema)
    client = Client(args.url)
    try:
        client.login(args.email, args.password)
        summary = apply(client, cols, dry_run=args.dry_run)
    except ApiError as err:
        if err.path.endswith("/auth-with-password"):
            print(f"error: superuser login at {args.url} failed (HTTP {err.status})", file=sys.stderr)
        else:
            print("error: " + err.describe(), file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        print(f"error: cannot reach {args.url}: {reason}", file=sys.stderr)
        return 1
    print(
        f"{summary['created']} created, {summary['updated']} updated, "
        f"{summary['unchanged']} unchanged"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
