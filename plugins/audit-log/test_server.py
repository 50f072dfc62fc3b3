"""Tests of the audit-log receiver: `python3 -m unittest discover -s plugins/audit-log`."""

import json
import os
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

from server import AuditLog, InvalidSignature, make_handler, signature, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# The Standard Webhooks reference vector (standard-webhooks/standard-webhooks, spec tests).
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = "1614265330"
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(msg_id, ts, sig):
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig}


class VerifyTest(unittest.TestCase):
    def test_reference_signature(self):
        self.assertEqual(signature(SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY), VECTOR_SIG)

    def test_good_signature_is_accepted(self):
        now = int(VECTOR_TS)
        got = verify(SECRET, headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG), VECTOR_BODY, now=now)
        self.assertEqual(got, VECTOR_ID)
        # Several signatures (key rotation): one valid is enough.
        both = f"v1,bm90IGl0 {VECTOR_SIG}"
        verify(SECRET, headers(VECTOR_ID, VECTOR_TS, both), VECTOR_BODY, now=now + 299)

    def test_bad_signatures_are_refused(self):
        now = int(VECTOR_TS)
        cases = [
            headers(VECTOR_ID, VECTOR_TS, "v1,Zm9yZ2Vk"),  # forged
            headers("msg_other", VECTOR_TS, VECTOR_SIG),  # signed for another id
            headers(VECTOR_ID, VECTOR_TS, "v2," + VECTOR_SIG[3:]),  # unknown version
            {"webhook-id": VECTOR_ID, "webhook-timestamp": VECTOR_TS},  # missing
        ]
        for h in cases:
            with self.assertRaises(InvalidSignature):
                verify(SECRET, h, VECTOR_BODY, now=now)
        with self.assertRaises(InvalidSignature):  # body changed
            verify(SECRET, headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG), b'{"test": 1}', now=now)
        with self.assertRaises(InvalidSignature):  # wrong secret
            verify("whsec_" + "A" * 32, headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG), VECTOR_BODY,
                   now=now)

    def test_stale_and_future_timestamps_are_refused(self):
        for skew in (-301, 301, 3600):
            with self.assertRaises(InvalidSignature) as e:
                verify(SECRET, headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG), VECTOR_BODY,
                       now=int(VECTOR_TS) + skew)
            self.assertIn("5 minutes", str(e.exception))


class HttpTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "audit.jsonl")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0),
                                          make_handler(SECRET, AuditLog(self.path)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        self.dir.cleanup()

    def post(self, body: bytes, hdrs: dict) -> int:
        req = urllib.request.Request(self.url, data=body, headers=hdrs, method="POST")
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    def test_signed_events_are_appended_and_others_refused(self):
        body = json.dumps({"type": "record.created", "data": {"record": {"id": "a"}}}).encode()
        ts = str(int(time.time()))
        self.assertEqual(self.post(body, headers("msg_1", ts, signature(SECRET, "msg_1", ts, body))), 204)
        self.assertEqual(self.post(body, headers("msg_2", ts, "v1,Zm9yZ2Vk")), 401)
        stale = str(int(time.time()) - 600)
        self.assertEqual(
            self.post(body, headers("msg_3", stale, signature(SECRET, "msg_3", stale, body))), 401)
        with open(self.path, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["webhookId"], "msg_1")
        self.assertEqual(lines[0]["event"]["type"], "record.created")


if __name__ == "__main__":
    unittest.main()
