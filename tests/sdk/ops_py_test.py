"""Operations through PocketBase's Python SDK (PyPI `pocketbase`), unchanged: pb.settings
(get_all, update, test_email, test_s3), pb.logs (get_list with filter/sort, get_one, get_stats)
and pb.health as a superuser; raw pb.send only where the SDK has no method (test_s3's body).
Restores the settings it changes, since the other SDK tests share the server.

Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… python ops_py_test.py
"""
import datetime
import os
import time

from pocketbase import PocketBase
from pocketbase.client import ClientResponseError

URL = os.environ["FERROBASE_URL"]


def fails(call, status: int):
    """The error `call` raises; asserts it has `status`."""
    try:
        call()
    except ClientResponseError as e:
        assert e.status == status, (e.status, e.data)
        return e
    raise AssertionError(f"expected HTTP {status}")


def main() -> None:
    pb = PocketBase(URL)
    pb.collection("_superusers").auth_with_password(os.environ["SU_EMAIL"], os.environ["SU_PASSWORD"])

    # Settings: PocketBase's shape, secrets hidden, partial updates, validation errors by path.
    before = pb.settings.get_all()
    for key in ["meta", "smtp", "s3", "backups", "batch", "rateLimits", "trustedProxy", "logs"]:
        assert isinstance(before[key], dict), key
    assert "password" not in before["smtp"]
    updated = pb.settings.update({"meta": {"appName": "Py Ops"}, "smtp": {"password": "hidden"}})
    assert updated["meta"]["appName"] == "Py Ops"
    assert updated["meta"]["senderAddress"] == before["meta"]["senderAddress"]
    assert "password" not in updated["smtp"]
    e = fails(lambda: pb.settings.update({"meta": {"appURL": "not a url"}}), 400)
    assert e.data["data"]["meta"]["appURL"]["code"] == "validation_invalid_url", e.data
    assert pb.settings.test_email("py-test@example.com", "verification") is True
    e = fails(lambda: pb.settings.test_email("py-test@example.com", "nope"), 400)
    assert e.data["data"]["template"]["code"] == "validation_in_invalid", e.data
    pb.settings.update({"meta": {"appName": before["meta"]["appName"]}})

    # test_s3: this SDK sends no body (its `filesystem` would go in the query), so the
    # filesystem is missing, as PocketBase answers it too; with the body (raw send), the
    # saved `s3` is not enabled.
    e = fails(lambda: pb.settings.test_s3(), 400)
    assert e.data["data"]["filesystem"]["code"] == "validation_required", e.data
    e = fails(
        lambda: pb.send("/api/settings/test/s3", {"method": "POST", "body": {"filesystem": "storage"}}),
        400,
    )
    assert "S3 storage filesystem is not enabled" in e.data["message"], e.data

    # Health: superusers see the proxy details.
    health = pb.health.check()
    assert health.code == 200, health
    assert health.data["realIP"] == "127.0.0.1", health.data
    assert health.data["possibleProxyHeader"] == ""
    assert isinstance(health.data["canBackup"], bool)

    # Logs: the health check above is there (written in batches, so poll), with its fields.
    flt = "data.url = '/api/health' && data.status = 200 && data.auth = '_superusers'"
    deadline = time.time() + 10
    while True:
        page = pb.logs.get_list(1, 5, {"filter": flt, "sort": "-created"})
        if page.items:
            break
        assert time.time() < deadline, "the health check's log entry never showed up"
        time.sleep(0.05)
    entry = page.items[0]
    assert len(entry.id) == 16, entry.id
    assert isinstance(entry.created, datetime.datetime), entry.created
    assert entry.message == "GET /api/health"
    assert entry.level == 0
    assert entry.data["method"] == "GET" and entry.data["auth"] == "_superusers", entry.data
    one = pb.logs.get_one(entry.id)
    assert (one.id, one.message, one.data) == (entry.id, entry.message, entry.data)
    fails(lambda: pb.logs.get_one("0000000000000000"), 404)
    stats = pb.logs.get_stats({"filter": flt})
    assert len(stats) >= 1
    assert all(isinstance(s.total, int) and isinstance(s.date, datetime.datetime) for s in stats)
    assert all(s.date.minute == 0 and s.date.second == 0 for s in stats), stats

    # Guests get 401 from every operations API.
    guest = PocketBase(URL)
    for call in [guest.settings.get_all, lambda: guest.logs.get_list(1, 1, {}), lambda: guest.logs.get_stats({}),
                 lambda: guest.settings.test_s3()]:
        fails(call, 401)
    print("ops (python): ok")


if __name__ == "__main__":
    main()
