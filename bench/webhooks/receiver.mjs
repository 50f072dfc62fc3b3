// A webhook receiver for bench/webhooks.py: /ok* answers 200 at once, /fail* 500, /slow* 200 after
// 2 s. GET /stats reports, per path prefix, requests and distinct webhook-ids, and the time of the
// last accepted request (ms since epoch).
import http from "node:http";

const port = Number(process.argv[2] || 0);
const stats = {};
const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    const out = {};
    for (const [k, v] of Object.entries(stats)) {
      out[k] = { requests: v.requests, distinct: v.ids.size, last: v.last };
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(out));
    return;
  }
  req.resume();
  req.on("end", () => {
    const key = req.url.split("?")[0];
    const s = (stats[key] ??= { requests: 0, ids: new Set(), last: 0 });
    s.requests++;
    if (key.startsWith("/fail")) {
      res.statusCode = 500;
      res.end("no");
      return;
    }
    const ok = () => {
      s.ids.add(req.headers["webhook-id"]);
      s.last = Date.now();
      res.end("ok");
    };
    if (key.startsWith("/slow")) setTimeout(ok, 2000);
    else ok();
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
