#!/usr/bin/env python3
"""Audit log: a Ferrobase webhook receiver that appends one JSON line per event (stdlib only).

Ferrobase starts this sidecar with PORT, WEBHOOK_SECRET (the plugin's `whsec_…` secret, which
also signs the webhooks the manifest declares) and AUDIT_LOG_FILE. Each POST to /events must
carry valid Standard Webhooks headers: `webhook-id`, `webhook-timestamp` (unix seconds, at most
5 minutes away from now) and `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256>` over
"{id}.{timestamp}.{body}" with the base64-decoded secret). Bad or stale requests get 401 and are
not logged; good ones are appended as {"receivedAt", "webhookId", "event"} and answered 204.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECS = 5 * 60
MAX_BODY = 8 * 1024 * 1024


class InvalidSignature(Exception):
    """Why a webhook request was refused."""


def signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of "{id}.{timestamp}.{body}" (what the sender puts in the header)."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret: str, headers, body: bytes, now=None) -> str:
    """Checks the Standard Webhooks headers of a request; returns the webhook id or raises."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a number") from None
    now = int(time.time()) if now is None else now
    if abs(now - sent) > TOLERANCE_SECS:
        raise InvalidSignature("webhook-timestamp is more than 5 minutes away")
    expected = signature(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(s, expected) for s in signatures.split()):
        raise InvalidSignature("no valid signature")
    return msg_id


class AuditLog:
    """Appends JSON lines to a file, one writer at a time."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()

    def append(self, webhook_id: str, event) -> None:
        line = json.dumps({"receivedAt": int(time.time()), "webhookId": webhook_id, "event": event})
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def make_handler(secret: str, log: AuditLog):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if self.path != "/events":
                return self.reply(404, {"message": "Not found."})
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                return self.reply(413, {"message": "Body too large."})
            body = self.rfile.read(length)
            try:
                webhook_id = verify(secret, self.headers, body)
            except InvalidSignature as e:
                return self.reply(401, {"message": str(e)})
            try:
                event = json.loads(body)
            except ValueError:
                return self.reply(400, {"message": "The body is not JSON."})
            log.append(webhook_id, event)
            self.send_response(204)
            self.end_headers()

        def reply(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def exit_with_parent():
    """Exit when Ferrobase goes away without stopping us (kill -9 cannot be forwarded)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret:
        sys.exit("audit-log: WEBHOOK_SECRET is not set")
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, os.environ.get("AUDIT_LOG_FILE") or "audit.jsonl")
    port = int(os.environ.get("PORT", "0"))
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(secret, AuditLog(path)))
    exit_with_parent()
    print(f"audit-log listening on 127.0.0.1:{server.server_address[1]}, writing {path}",
          file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
