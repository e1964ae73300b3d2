#!/usr/bin/env python3
"""Opens N streaming chat requests at once and checks that every one completes.

Each request is `POST /v1/chat/completions` with `"stream": true` and `Connection: close`;
a stream counts as complete when the answer is HTTP 200, the body ends cleanly (the server
closes after the last chunk) and it carries at least --expect-events `data:` events and
`data: [DONE]`, so a stream cut short shows up even when it ends with a clean close.

    python3 streams_client.py --port 18501 --streams 10000 --expect-events 100 --deadline 240

Prints one JSON object (the result) on stdout; exit 0 only when every stream completed.
Loopback only: the host is always 127.0.0.1. Standard library only (asyncio protocols, which
cost far less per read than streams; uses uvloop when it happens to be installed).
"""

import argparse
import asyncio
import collections
import json
import resource
import sys
import time


class Stream(asyncio.Protocol):
    __slots__ = ("req", "t0", "rec", "head", "tail", "done_fut", "transport")

    def __init__(self, req, t0, rec, done_fut):
        self.req, self.t0, self.rec, self.done_fut = req, t0, rec, done_fut
        self.head = b""
        self.tail = None  # None until the response head is complete
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.rec["connect"] = time.monotonic() - self.t0
        transport.write(self.req)

    def data_received(self, data):
        rec = self.rec
        if self.tail is None:
            self.head += data
            i = self.head.find(b"\r\n\r\n")
            if i < 0:
                return
            rec["head"] = time.monotonic() - self.t0
            line = self.head[: self.head.find(b"\r\n")].split(b" ")
            rec["status"] = int(line[1]) if len(line) > 1 and line[1].isdigit() else 0
            data = self.head[i + 4 :]
            self.head = b""
            self.tail = b""
            if not data:
                return
        if rec["first"] is None:
            rec["first"] = time.monotonic() - self.t0
        buf = self.tail + data
        rec["events"] += buf.count(b"data:") - self.tail.count(b"data:")
        if not rec["done"] and b"[DONE]" in buf:
            rec["done"] = True
        self.tail = buf[-16:]

    def connection_lost(self, exc):
        self.rec["end"] = time.monotonic() - self.t0
        if exc is not None:
            self.rec["error"] = type(exc).__name__
        if not self.done_fut.done():
            self.done_fut.set_result(None)


async def one(i, args, t0, rec):
    loop = asyncio.get_running_loop()
    alias = "fast" if i % 2 == 0 else "powerful"
    body = json.dumps(
        {"model": alias, "messages": [{"role": "user", "content": "stream %d" % i}], "stream": True}
    ).encode()
    req = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        "Accept: text/event-stream\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % (args.port, len(body))
    ).encode() + body
    fut = loop.create_future()
    transport = None
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: Stream(req, t0, rec, fut), "127.0.0.1", args.port),
            timeout=args.connect_timeout,
        )
        await fut
    except asyncio.TimeoutError:
        rec["error"] = "connect timeout"
    except OSError as e:
        rec["error"] = "%s(errno %s)" % (type(e).__name__, e.errno)
    except asyncio.CancelledError:
        rec["error"] = "deadline"
        if transport is not None:
            transport.abort()
        raise


async def main_async(args, recs):
    t0 = time.monotonic()
    tasks = [asyncio.create_task(one(i, args, t0, recs[i])) for i in range(args.streams)]
    opened = time.monotonic() - t0
    _, pending = await asyncio.wait(tasks, timeout=args.deadline)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return time.monotonic() - t0, opened


def q(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))], 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--streams", type=int, default=10000)
    ap.add_argument("--expect-events", type=int, default=0, help="fewer data: events than this = short stream")
    ap.add_argument("--connect-timeout", type=float, default=60.0)
    ap.add_argument("--deadline", type=float, default=240.0, help="seconds for the whole run")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.streams + 256) if hard != resource.RLIM_INFINITY else args.streams + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        import uvloop  # optional

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    recs = [
        {"connect": None, "head": None, "first": None, "end": None, "events": 0, "done": False, "status": None, "error": None}
        for _ in range(args.streams)
    ]
    wall, opened = asyncio.run(main_async(args, recs))
    errors = collections.Counter()
    completed = 0
    for r in recs:
        if r["error"]:
            errors[r["error"]] += 1
        elif r["status"] != 200:
            errors["http %s" % r["status"]] += 1
        elif not r["done"]:
            errors["no [DONE]"] += 1
        elif r["events"] < args.expect_events:
            errors["short stream"] += 1
        else:
            completed += 1
    connected = [r["connect"] for r in recs if r["connect"] is not None]
    ok = [r for r in recs if r["status"] == 200 and r["done"] and r["end"] is not None and r["connect"] is not None]
    out = {
        "streams": args.streams,
        "completed": completed,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "client_loop": loop_name,
        "wall_s": round(wall, 3),
        "connected": len(connected),
        "connect_s_p50_p99_max": [q(connected, 0.5), q(connected, 0.99), q(connected, 1.0)],
        "time_to_head_s_p50_p99_max": [q([r["head"] - r["connect"] for r in recs if r["head"] and r["connect"]], p) for p in (0.5, 0.99, 1.0)],
        "stream_duration_s_min_p50_p99_max": [q([r["end"] - r["connect"] for r in ok], p) for p in (0.0, 0.5, 0.99, 1.0)],
        "events_per_stream": dict(sorted(collections.Counter(r["events"] for r in recs).items())[:10]),
        "http_status": dict(collections.Counter(str(r["status"]) for r in recs)),
    }
    print(json.dumps(out))
    return 0 if completed == args.streams else 1


if __name__ == "__main__":
    sys.exit(main())
