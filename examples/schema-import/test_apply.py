"""Tests of apply.py against a running Ferrobase (FB_URL, FB_EMAIL, FB_PASSWORD; test.sh starts
one): create, idempotent re-run, update, kept fields, relation names, and clear errors."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
APPLY = os.path.join(HERE, "apply.py")
SCHEMA = os.path.join(HERE, "schema.json")


def run(schema_path, *extra, password=None):
    return subprocess.run(
        [sys.executable, "-B", APPLY, schema_path, "--url", os.environ["FB_URL"],
         "--email", os.environ["FB_EMAIL"], "--password", password or os.environ["FB_PASSWORD"], *extra],
        capture_output=True, text=True, timeout=60,
    )


def write(doc):
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(doc, f) if not isinstance(doc, str) else f.write(doc)
    f.close()
    TEMP_FILES.append(f.name)
    return f.name


TEMP_FILES = []


def tearDownModule():
    for name in TEMP_FILES:
        os.unlink(name)


def collection(name):
    req = urllib.request.Request(os.environ["FB_URL"] + "/api/collections/_superusers/auth-with-password",
        data=json.dumps({"identity": os.environ["FB_EMAIL"], "password": os.environ["FB_PASSWORD"]}).encode(),
        headers={"content-type": "application/json"})
    token = json.load(urllib.request.urlopen(req))["token"]
    req = urllib.request.Request(os.environ["FB_URL"] + "/api/collections/" + name, headers={"authorization": token})
    return json.load(urllib.request.urlopen(req))


@unittest.skipUnless(os.environ.get("FB_URL"), "needs a running server (run test.sh)")
class ApplyTest(unittest.TestCase):
    def test_1_create_then_nothing_then_update(self):
        first = run(SCHEMA)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("created   tags", first.stdout)
        self.assertIn("created   posts", first.stdout)
        self.assertTrue(first.stdout.endswith("2 created, 0 updated, 0 unchanged\n"), first.stdout)
        posts = collection("posts")
        author = next(f for f in posts["fields"] if f["name"] == "author")
        self.assertEqual(author["collectionId"], collection("users")["id"], "relation by name")
        self.assertEqual(posts["listRule"], 'status = "published" || author = @request.auth.id')

        # Idempotent: nothing changes, nothing is written.
        before = collection("posts")
        second = run(SCHEMA)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(second.stdout, "unchanged tags\nunchanged posts\n0 created, 0 updated, 2 unchanged\n")
        self.assertEqual(collection("posts")["updated"], before["updated"])

        # A changed file: a new field, a changed option and rule; --dry-run first writes nothing.
        with open(SCHEMA, encoding="utf-8") as f:
            doc = json.load(f)
        posts_doc = doc["collections"][1]
        posts_doc["fields"].append({"name": "views", "type": "number", "min": 0})
        next(f for f in posts_doc["fields"] if f["name"] == "title")["max"] = 300
        posts_doc["deleteRule"] = None
        path = write(doc)
        dry = run(path, "--dry-run")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertIn("would update posts: deleteRule; fields ~title +views", dry.stdout)
        self.assertEqual(collection("posts")["updated"], before["updated"])
        third = run(path)
        self.assertEqual(third.returncode, 0, third.stderr)
        self.assertIn("updated   posts: deleteRule; fields ~title +views", third.stdout)
        after = collection("posts")
        self.assertIsNone(after["deleteRule"])
        self.assertEqual(next(f for f in after["fields"] if f["name"] == "title")["max"], 300)
        self.assertIn("views", [f["name"] for f in after["fields"]])
        # Field ids are kept (an update, not a drop and re-add).
        ids = {f["name"]: f["id"] for f in before["fields"]}
        self.assertTrue(all(ids[f["name"]] == f["id"] for f in after["fields"] if f["name"] in ids))
        self.assertIn("unchanged posts", run(path).stdout)

        # The original file again: `views` is not in it, it is kept and reported.
        back = run(SCHEMA)
        self.assertIn("kept fields not in the file: views", back.stdout)
        self.assertIn("views", [f["name"] for f in collection("posts")["fields"]])

    def test_2_errors_are_clear(self):
        cases = [
            (write("{not json"), 2, "is not valid JSON"),
            (write({"collections": [{"fields": []}]}), 2, 'needs a "name"'),
            (write({"collections": [{"name": "a"}, {"name": "a"}]}), 2, "appears twice"),
            (write({"collections": [{"name": "x1", "fields": [
                {"name": "r", "type": "relation", "collection": "nope"}]}]}), 2,
             "relation target 'nope' does not exist"),
            (os.path.join(HERE, "missing.json"), 2, "cannot read"),
        ]
        for path, code, message in cases:
            res = run(path)
            self.assertEqual(res.returncode, code, (path, res.stdout, res.stderr))
            self.assertIn(message, res.stderr)
        # The server's validation errors are shown by field.
        res = run(write({"collections": [{"name": "bad", "type": "base",
                                          "fields": [{"name": "t", "type": "text"}],
                                          "listRule": "nope = 1"}]}))
        self.assertEqual(res.returncode, 1)
        self.assertIn("POST /api/collections failed with HTTP 400", res.stderr)
        self.assertIn("listRule:", res.stderr)
        res = run(SCHEMA, password="wrong-password")
        self.assertEqual(res.returncode, 1)
        self.assertIn("superuser login", res.stderr)
        res = subprocess.run([sys.executable, "-B", APPLY, SCHEMA, "--url", "http://127.0.0.1:9",
                              "--email", "a@b.c", "--password", "x"], capture_output=True, text=True)
        self.assertEqual(res.returncode, 1)
        self.assertIn("cannot reach http://127.0.0.1:9", res.stderr)


if __name__ == "__main__":
    unittest.main()
