#!/usr/bin/env python3
"""Slugify: a Ferrobase before-hook that fills `slug` from `title` (Python standard library only).

Ferrobase starts this sidecar with PORT set and POSTs each pending create/update of the hooked
collections to /hook as {"event", "collection", "record", "previous", "auth"}. When the pending
values carry a `title` and no explicit non-empty `slug`, the answer is the same values with
`slug` set; otherwise an empty 204 keeps them unchanged.
"""

import json
import os
import re
import sys
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

MAX_BODY = 1024 * 1024


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by dashes: "Héllo, World!" -> "hello-world"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def handle_event(event: dict) -> Optional[dict]:
    """The hook's reply: {"record": values with slug} or None to keep the values as they are."""
    if event.get("event") not in ("before_create", "before_update"):
        return None
    record = event.get("record")
    if not isinstance(record, dict) or not isinstance(record.get("title"), str):
        return None
    explicit = record.get("slug")
    if isinstance(explicit, str) and explicit.strip():
        return None
    return {"record": {**record, "slug": slugify(record["title"])}}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/hook":
            return self.reply(404, {"message": "Not found."})
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            return self.reply(413, {"message": "Body too large."})
        try:
            event = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.reply(400, {"message": "slugify: the hook body is not JSON."})
        answer = handle_event(event) if isinstance(event, dict) else None
        if answer is None:
            self.send_response(204)
            self.end_headers()
        else:
            self.reply(200, answer)

    def reply(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # one line per hook call would drown the server log


def exit_with_parent():
    """Exit when Ferrobase goes away without stopping us (kill -9 cannot be forwarded)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    port = int(os.environ.get("PORT", "0"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    exit_with_parent()
    print(f"slugify listening on 127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
