"""Tests of receiver.py: verification rules offline, then end to end against a running Ferrobase
(FB_URL, FB_EMAIL, FB_PASSWORD from test.sh, which starts one; skipped without them)."""

import base64
import json
import os
import queue
import re
import threading
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import receiver  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"example-secret-of-32-bytes......").decode()


class VerifyTest(unittest.TestCase):
    key = receiver.secret_key(SECRET)

    def headers(self, body, ts=None, msg_id="msg_1"):
        ts = str(int(time.time()) if ts is None else ts)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": ts,
            "webhook-signature": receiver.sign(self.key, msg_id, ts, body),
        }

    def test_known_vector(self):
        # The Standard Webhooks reference vector (also src/webhooks/sign.rs's unit test).
        key = receiver.secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        body = b'{"test": 2432232314}'
        self.assertEqual(
            receiver.sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        )

    def test_valid_and_rotated_signatures(self):
        body = b'{"a":1}'
        h = self.headers(body)
        self.assertEqual(receiver.verify(self.key, h, body), "msg_1")
        h["webhook-signature"] = "v1,AAAA " + h["webhook-signature"]
        self.assertEqual(receiver.verify(self.key, h, body), "msg_1")

    def test_tampered_body_id_or_timestamp_is_401(self):
        body = b'{"a":1}'
        h = self.headers(body)
        for mutate in (
            lambda h, b: (h, b'{"a":2}'),
            lambda h, b: ({**h, "webhook-id": "msg_2"}, b),
            lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)}, b),
            lambda h, b: ({**h, "webhook-signature": "v1,"}, b),
            lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, b),
        ):
            hh, bb = mutate(dict(h), body)
            with self.assertRaises(receiver.VerifyError) as ctx:
                receiver.verify(self.key, hh, bb)
            self.assertEqual(ctx.exception.status, 401)

    def test_old_future_or_bad_timestamp_and_missing_headers_are_400(self):
        body = b"{}"
        for h in (
            self.headers(body, ts=int(time.time()) - 301),
            self.headers(body, ts=int(time.time()) + 301),
            {**self.headers(body), "webhook-timestamp": "soon"},
            {k: v for k, v in self.headers(body).items() if k != "webhook-signature"},
            {},
        ):
            with self.assertRaises(receiver.VerifyError) as ctx:
                receiver.verify(self.key, h, body)
            self.assertEqual(ctx.exception.status, 400, h)

    def test_secret_format(self):
        with self.assertRaises(ValueError):
            receiver.secret_key("abc")
        with self.assertRaises(ValueError):
            receiver.secret_key("whsec_!!!")


def api(method, path, body=None, token=""):
    req = urllib.request.Request(
        os.environ["FB_URL"] + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json", **({"authorization": token} if token else {})},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        raw = res.read()
        return json.loads(raw) if raw else None


def post_raw(url, body, headers):
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status
    except urllib.error.HTTPError as err:
        return err.code


@unittest.skipUnless(os.environ.get("FB_URL"), "needs a running server (run test.sh)")
class EndToEndTest(unittest.TestCase):
    def setUp(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(HERE, "receiver.py"), "--port", "0"],
            env={**os.environ, "WEBHOOK_SECRET": SECRET},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        self.assertIsNotNone(m, line)
        self.url = f"http://127.0.0.1:{m.group(1)}/"
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self.read_stdout, daemon=True)
        self.reader.start()
        self.token = api(
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {"identity": os.environ["FB_EMAIL"], "password": os.environ["FB_PASSWORD"]},
        )["token"]

    def read_stdout(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_event(self):
        try:
            return json.loads(self.lines.get(timeout=10))
        except queue.Empty:
            self.fail("the receiver printed no event within 10 s")

    def tearDown(self):
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def test_ferrobase_deliveries_verify_and_tampering_is_rejected(self):
        hook = api(
            "POST",
            "/api/webhooks",
            {
                "name": "example receiver",
                "url": self.url,
                "secret": SECRET,
                "collections": ["notes"],
                "actions": ["create", "update"],
            },
            self.token,
        )
        note = api("POST", "/api/collections/notes/records", {"text": "hello"}, self.token)
        api("PATCH", f"/api/collections/notes/records/{note['id']}", {"text": "bye"}, self.token)
        events = [self.next_event() for _ in range(2)]
        events.sort(key=lambda e: e["seq"])
        self.assertEqual([e["type"] for e in events], ["record.created", "record.updated"])
        self.assertTrue(all(e["verified"] for e in events))
        self.assertEqual([e["record"]["text"] for e in events], ["hello", "bye"])
        self.assertEqual({e["collection"] for e in events}, {"notes"})
        self.assertEqual(events[0]["id"], f"msg_{hook['id']}_{events[0]['seq']}")

        # Ferrobase's delivery log agrees: delivered, answered 204.
        for _ in range(50):
            log = api("GET", f"/api/webhooks/{hook['id']}/deliveries", token=self.token)
            if len(log["items"]) == 2 and all(d["status"] == "delivered" for d in log["items"]):
                break
            time.sleep(0.1)
        self.assertEqual([d["status"] for d in log["items"]], ["delivered", "delivered"], log)
        self.assertEqual(log["items"][0]["attempts"][0]["statusCode"], 204)

        # A forged request: the right headers, another body -> 401; an old signed one -> 400.
        key = receiver.secret_key(SECRET)
        ts = str(int(time.time()))
        body = b'{"type":"record.created","data":{"record":{"text":"forged"}}}'
        good = {"webhook-id": "msg_x", "webhook-timestamp": ts,
                "webhook-signature": receiver.sign(key, "msg_x", ts, body)}
        self.assertEqual(post_raw(self.url, body.replace(b"forged", b"FORGED"), good), 401)
        wrong_key = receiver.sign(b"another key", "msg_x", ts, body)
        self.assertEqual(post_raw(self.url, body, {**good, "webhook-signature": wrong_key}), 401)
        old = str(int(time.time()) - 3600)
        stale = {"webhook-id": "msg_y", "webhook-timestamp": old,
                 "webhook-signature": receiver.sign(key, "msg_y", old, body)}
        self.assertEqual(post_raw(self.url, body, stale), 400)
        self.assertEqual(post_raw(self.url, body, {}), 400)
        # A genuine one is accepted; sent twice, it is printed once.
        self.assertEqual(post_raw(self.url, body, good), 204)
        self.assertEqual(post_raw(self.url, body, good), 204)
        self.assertEqual(self.next_event()["record"]["text"], "forged")
        self.proc.kill()
        self.reader.join(5)
        self.assertTrue(self.lines.empty(), "nothing else printed (no tampered request, no duplicate)")


if __name__ == "__main__":
    unittest.main()
