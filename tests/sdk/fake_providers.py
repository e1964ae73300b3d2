#!/usr/bin/env python3
"""Fake Anthropic, Gemini and Bedrock APIs for the SDK end-to-end check (tests/sdk/run.sh).

One HTTP/1.1 server on 127.0.0.1:PORT (first argument) that answers in each provider's own wire
format, as their API references describe it:

- Anthropic Messages: POST .../v1/messages, JSON or named SSE events; a request with tools and
  no tool result gets a tool_use block, one with a tool_result gets text.
- Gemini: POST .../models/{model}:generateContent and :streamGenerateContent?alt=sse (CRLF SSE).
- Bedrock Converse: POST /model/{id}/converse and /converse-stream (AWS event-stream frames with
  CRC32s). Every Bedrock request's SigV4 signature is recomputed here (a third implementation,
  after llmux's signer and the Rust tests' verifier) and a bad one gets 403.

Standard library only.
"""

import hashlib
import hmac
import json
import struct
import sys
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AWS_SECRET = "sdk-check-secret"


def sigv4_ok(handler, body):
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    _key, date, region, service, _ = parts["Credential"].split("/")
    signed = parts["SignedHeaders"].split(";")
    path, _, query = handler.path.partition("?")
    canonical_uri = urllib.parse.quote(path, safe="/-_.~")
    canonical_query = "&".join(sorted(p for p in query.split("&") if p))
    canonical_headers = "".join(
        f"{h}:{' '.join(handler.headers.get(h, '').split())}\n" for h in signed
    )
    creq = "\n".join([
        handler.command, canonical_uri, canonical_query, canonical_headers,
        ";".join(signed), hashlib.sha256(body).hexdigest(),
    ])
    amz_date = handler.headers.get("X-Amz-Date", "")
    sts = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{service}/aws4_request",
        hashlib.sha256(creq.encode()).hexdigest(),
    ])
    key = ("AWS4" + AWS_SECRET).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    if expected != parts["Signature"]:
        return f"signature mismatch; canonical request was:\n{creq}"
    return None


def frame(event_type, payload):
    """One AWS event-stream message: prelude, string headers, payload, CRCs."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    data = json.dumps(payload).encode()
    total = 12 + len(headers) + len(data) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + data
    return message + struct.pack(">I", zlib.crc32(message))


def wants_tool(req, tool_key, result_marker):
    """A tool is called when the request offers tools and carries no tool result yet."""
    return bool(req.get(tool_key)) and result_marker not in json.dumps(req)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_stream(self, content_type, pieces):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in pieces:
            if isinstance(piece, str):
                piece = piece.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        req = json.loads(body or b"{}")
        path = self.path.split("?")[0]
        if path.endswith("/v1/messages/count_tokens"):
            return self.send_json(200, {"input_tokens": 12})
        if path.endswith("/v1/messages"):
            return self.anthropic(req)
        if ":generateContent" in path or ":streamGenerateContent" in path:
            return self.gemini(req, ":streamGenerateContent" in path)
        if path.startswith("/model/"):
            problem = sigv4_ok(self, body)
            if problem:
                return self.send_json(403, {"message": problem},
                                      [("x-amzn-ErrorType", "InvalidSignatureException")])
            return self.bedrock(req, path.endswith("/converse-stream"))
        self.send_json(404, {"error": f"no fake for {self.path}"})

    def anthropic(self, req):
        if self.headers.get("x-api-key") != "sk-ant-sdk-check":
            return self.send_json(401, {"type": "error", "error": {
                "type": "authentication_error", "message": "invalid x-api-key"}})
        usage = {"input_tokens": 21, "output_tokens": 9}
        if wants_tool(req, "tools", "tool_result"):
            name = req["tools"][0]["name"]
            content = [{"type": "tool_use", "id": "toolu_sdk1", "name": name, "input": {"city": "Paris"}}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": "Hello from the fake Claude."}]
            stop = "end_turn"
        if not req.get("stream"):
            return self.send_json(200, {"id": "msg_sdk", "type": "message", "role": "assistant",
                                        "model": req["model"], "content": content,
                                        "stop_reason": stop, "stop_sequence": None, "usage": usage})
        ev = lambda name, data: f"event: {name}\ndata: {json.dumps(data)}\n\n"
        pieces = [ev("message_start", {"type": "message_start", "message": {
            "id": "msg_sdk", "type": "message", "role": "assistant", "model": req["model"],
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 21, "output_tokens": 1}}}),
            ev("ping", {"type": "ping"})]
        block = content[0]
        if block["type"] == "text":
            pieces.append(ev("content_block_start", {"type": "content_block_start", "index": 0,
                                                     "content_block": {"type": "text", "text": ""}}))
            for word in ["Hello ", "from the ", "fake Claude."]:
                pieces.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                         "delta": {"type": "text_delta", "text": word}}))
        else:
            pieces.append(ev("content_block_start", {"type": "content_block_start", "index": 0,
                                                     "content_block": {**block, "input": {}}}))
            for part in ['{"city":', ' "Paris"}']:
                pieces.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                         "delta": {"type": "input_json_delta", "partial_json": part}}))
        pieces.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
        pieces.append(ev("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": stop, "stop_sequence": None},
                                           "usage": {"output_tokens": 9}}))
        pieces.append(ev("message_stop", {"type": "message_stop"}))
        self.send_stream("text/event-stream", pieces)

    def gemini(self, req, stream):
        if self.headers.get("x-goog-api-key") != "AIza-sdk-check":
            return self.send_json(400, {"error": {"code": 400, "message": "API key not valid.",
                                                  "status": "INVALID_ARGUMENT"}})
        if wants_tool(req, "tools", "functionResponse"):
            name = req["tools"][0]["functionDeclarations"][0]["name"]
            parts_list = [[{"functionCall": {"name": name, "args": {"city": "Paris"}}}]]
        else:
            parts_list = [[{"text": "Hello "}], [{"text": "from the "}], [{"text": "fake Gemini."}]]
        events = []
        for i, parts in enumerate(parts_list):
            last = i == len(parts_list) - 1
            cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if last:
                cand["finishReason"] = "STOP"
            events.append({"candidates": [cand], "usageMetadata": {
                "promptTokenCount": 17, "candidatesTokenCount": 2 * (i + 1),
                "totalTokenCount": 17 + 2 * (i + 1)}, "modelVersion": "gemini-2.0-flash"})
        if stream:
            return self.send_stream("text/event-stream", [f"data: {json.dumps(e)}\r\n\r\n" for e in events])
        merged = {"candidates": [{"content": {"parts": [p for ps in parts_list for p in ps], "role": "model"},
                                  "finishReason": "STOP", "index": 0}],
                  "usageMetadata": events[-1]["usageMetadata"], "modelVersion": "gemini-2.0-flash"}
        self.send_json(200, merged)

    def bedrock(self, req, stream):
        usage = {"inputTokens": 25, "outputTokens": 7, "totalTokens": 32}
        if wants_tool(req, "toolConfig", "toolResult"):
            name = req["toolConfig"]["tools"][0]["toolSpec"]["name"]
            content = [{"toolUse": {"toolUseId": "tooluse_sdk1", "name": name, "input": {"city": "Paris"}}}]
            stop = "tool_use"
        else:
            content = [{"text": "Hello from the fake Bedrock."}]
            stop = "end_turn"
        if not stream:
            return self.send_json(200, {"output": {"message": {"role": "assistant", "content": content}},
                                        "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 5}})
        frames = [frame("messageStart", {"role": "assistant", "p": "abcd"})]
        if "text" in content[0]:
            for word in ["Hello ", "from the ", "fake Bedrock."]:
                frames.append(frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}}))
        else:
            tool = content[0]["toolUse"]
            frames.append(frame("contentBlockStart", {"contentBlockIndex": 0, "start": {
                "toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}}))
            for part in ['{"city":', ' "Paris"}']:
                frames.append(frame("contentBlockDelta", {"contentBlockIndex": 0,
                                                          "delta": {"toolUse": {"input": part}}}))
        frames.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
        frames.append(frame("messageStop", {"stopReason": stop}))
        frames.append(frame("metadata", {"usage": usage, "metrics": {"latencyMs": 5}}))
        self.send_stream("application/vnd.amazon.eventstream", frames)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"fake providers on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
