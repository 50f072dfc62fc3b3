#!/usr/bin/env python3
"""A webhook receiver that verifies Ferrobase's Standard Webhooks signatures (stdlib only).

    WEBHOOK_SECRET=whsec_... python3 receiver.py [--port 8787] [--host 127.0.0.1] [--tolerance 300]

Every POST must carry the headers `webhook-id`, `webhook-timestamp` (unix seconds) and
`webhook-signature` (space-separated `v1,<base64>` entries). The signed content is
`{id}.{timestamp}.{raw body}`, the key is the base64 after `whsec_`, the MAC is HMAC-SHA256
(https://www.standardwebhooks.com/). Answers:

    204  verified (the event is printed as one JSON line on stdout)
    400  a header is missing or the timestamp is not a number / too far from now (replay window)
    401  no signature matches
    413  body too large

Duplicates (the same webhook-id: Ferrobase delivers at least once) are acknowledged and not
printed again. Standard library only: http.server, hmac, hashlib, base64.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

MAX_BODY = 1 << 20  # 1 MiB
SEEN_MAX = 10_000


class VerifyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def secret_key(secret):
    """The HMAC key of a `whsec_<base64>` secret."""
    if not secret.startswith("whsec_"):
        raise ValueError("the secret must start with whsec_")
    try:
        return base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret after whsec_ must be standard base64") from None


def sign(key, msg_id, timestamp, body):
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(key, headers, body, tolerance=300, now=None):
    """Raises VerifyError unless the request is signed with `key` and fresh; returns the id."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        raise VerifyError(400, "missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        ts_int = int(ts)
    except ValueError:
        raise VerifyError(400, "webhook-timestamp is not an integer") from None
    now = int(time.time()) if now is None else now
    if abs(now - ts_int) > tolerance:
        raise VerifyError(400, f"webhook-timestamp is more than {tolerance}s from now")
    expected = sign(key, msg_id, ts, body)
    for candidate in sigs.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return msg_id
    raise VerifyError(401, "no valid signature")


class Receiver(BaseHTTPRequestHandler):
    server_version = "webhook-receiver"
    key = b""
    tolerance = 300
    seen = OrderedDict()
    seen_lock = Lock()
    print_lock = Lock()

    def do_POST(self):
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            return self.reply(400, "bad content-length")
        if length < 0 or length > MAX_BODY:
            return self.reply(413, "body too large")
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            msg_id = verify(self.key, headers, body, self.tolerance)
        except VerifyError as err:
            self.log(f"rejected ({err.status}): {err}")
            return self.reply(err.status, str(err))
        with self.seen_lock:
            duplicate = msg_id in self.seen
            self.seen[msg_id] = True
            while len(self.seen) > SEEN_MAX:
                self.seen.popitem(last=False)
        if duplicate:
            self.log(f"duplicate {msg_id} acknowledged")
            return self.reply(204)
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        # Verified: this is where an application would act on the event.
        line = {"verified": True, "id": msg_id}
        if isinstance(event, dict):
            data = event.get("data") or {}
            record = data.get("record") or {}
            line.update(
                type=event.get("type"),
                seq=event.get("seq"),
                collection=data.get("collectionName"),
                record=record,
            )
        with self.print_lock:  # requests are handled on threads: one whole line at a time
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        self.reply(204)

    def reply(self, status, message=None):
        body = json.dumps({"error": message}).encode() if message else b""
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log(self, msg):
        print(f"[receiver] {msg}", file=sys.stderr, flush=True)

    def log_message(self, *_args):
        pass  # one line per event on stdout is enough


def main(argv=None):
    p = argparse.ArgumentParser(description="Verify and print Ferrobase webhooks.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 = any free port (printed)")
    p.add_argument("--tolerance", type=int, default=300, help="max clock skew in seconds")
    args = p.parse_args(argv)
    secret = os.environ.get("WEBHOOK_SECRET", "")
    try:
        Receiver.key = secret_key(secret)
    except ValueError as err:
        print(f"error: WEBHOOK_SECRET: {err}", file=sys.stderr)
        return 2
    Receiver.tolerance = args.tolerance
    httpd = ThreadingHTTPServer((args.host, args.port), Receiver)
    host, port = httpd.server_address[:2]
    print(f"[receiver] listening on http://{host}:{port}/", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
