"""Tests of the slugify hook: `python3 -m unittest discover -s plugins/slugify`."""

import json
import threading
import unittest
import urllib.request
from http.server import ThreadingHTTPServer

from server import Handler, handle_event, slugify


class SlugifyTest(unittest.TestCase):
    def test_slugify_lowercases_ascii_and_dashes(self):
        self.assertEqual(slugify("Hello, World!"), "hello-world")
        self.assertEqual(slugify("  Crème brûlée -- à la mode "), "creme-brulee-a-la-mode")
        self.assertEqual(slugify("Rust 2024 edition"), "rust-2024-edition")
        self.assertEqual(slugify("日本"), "")

    def test_title_fills_slug_on_create_and_update(self):
        for event in ("before_create", "before_update"):
            reply = handle_event({"event": event, "record": {"title": "A B", "n": 1}})
            self.assertEqual(reply, {"record": {"title": "A B", "n": 1, "slug": "a-b"}})

    def test_values_are_kept_without_title_with_explicit_slug_or_on_delete(self):
        self.assertIsNone(handle_event({"event": "before_create", "record": {"n": 1}}))
        self.assertIsNone(
            handle_event({"event": "before_create", "record": {"title": "A", "slug": "mine"}})
        )
        self.assertIsNone(handle_event({"event": "before_delete", "record": {"title": "A"}}))


class HttpTest(unittest.TestCase):
    def setUp(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def post(self, body: bytes):
        req = urllib.request.Request(self.url, data=body, method="POST")
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read()

    def test_hook_round_trip(self):
        event = {"event": "before_create", "collection": "posts", "record": {"title": "Hi There"},
                 "previous": None, "auth": None}
        status, body = self.post(json.dumps(event).encode())
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"record": {"title": "Hi There", "slug": "hi-there"}})
        status, body = self.post(json.dumps({**event, "record": {}}).encode())
        self.assertEqual((status, body), (204, b""))


if __name__ == "__main__":
    unittest.main()
