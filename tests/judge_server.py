"""A local HTTP server speaking the bits of the Anthropic and OpenAI APIs that brie's judges use.

Messages (POST /v1/messages), Message Batches (POST /v1/messages/batches, GET …/{id}, GET …/{id}/results)
and chat completions (POST /v1/chat/completions). What it answers is scripted by a `behaviour`
function: behaviour(call) -> dict, where call = {"n": 1-based count of model calls, "kind":
"anthropic"|"openai", "body": the request JSON, "user": the user message text}. The dict may hold
  text: the judge's answer; status: HTTP status (default 200); delay: seconds to wait first;
  raw: bytes to send as the body instead (invalid JSON, empty); refusal: True; usage: (in, out, cache_read);
  batch_result: "errored" or "expired" for a batch item that does not succeed.
`batch_failures` scripts the batch endpoints themselves: {"create"|"get"|"results"|"cancel": a dict
with status, raw and content_type}, e.g. {"get": {"status": 404}} for a server that forgets batches.
`headers` records every request's headers (method, path, {lower-cased name: value}).
Chat completions asked for `logprobs` (and `top_logprobs`) answer with logprobs.content, one entry per
token of the text (`tokens`: the text split as scripted, else "[[", "]]", words and spaces); every
token has logprob 0 and itself as its only alternative, except the verdict letter's token, whose
alternatives are the behaviour's `verdict_logprobs` ({token: logprob}, at most top_logprobs of them,
most likely first; the token itself gets its own entry's value, 0 when absent). A server made with
`logprobs=False` ignores the option, as some OpenAI-compatible servers do.
Real sockets and real JSON: the SDKs under test cannot tell it from the real service.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answers_in(user: str) -> tuple[str, str]:
    """The two answers shown to a pairwise judge, as (first, second) — for content-based fake judges."""
    def between(start, end):
        i = user.index(start) + len(start)
        return user[i:user.index(end, i)].strip()
    if "[The Start of Assistant A's Answer]" in user:
        return (between("[The Start of Assistant A's Answer]", "[The End of Assistant A's Answer]"),
                between("[The Start of Assistant B's Answer]", "[The End of Assistant B's Answer]"))
    return (between("[The Start of Assistant A's Conversation with User]", "[The End of Assistant A's"),
            between("[The Start of Assistant B's Conversation with User]", "[The End of Assistant B's"))


# Batch ids unique across servers, as the real API's are: a test may restart its server on one workspace.
_BATCH_IDS = itertools.count(1)


class JudgeServer:
    def __init__(self, behaviour, batch_polls_in_progress: int = 1, logprobs: bool = True):
        self.behaviour = behaviour
        self.logprobs = logprobs  # False: ignore the logprobs option (answer without logprobs)
        self.calls: list[dict] = []  # every model call (messages, chat completions, batch items)
        self.http_requests: list[tuple[str, str]] = []
        self.batches: dict[str, dict] = {}
        self.batch_polls_in_progress = batch_polls_in_progress
        self.api_keys_seen: set[str] = set()
        self.batch_get_status = 200  # set to 500 to make a client crash while it waits on a batch
        self.batch_failures: dict[str, dict] = {}  # see the module docstring
        self.headers: list[tuple[str, str, dict[str, str]]] = []
        self.canceled: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out as separate writes; without this, Nagle's algorithm and the
                # client's delayed ACK add ~40 ms to every answer.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server._handle(self, "POST", body)

            def do_GET(self):
                server._handle(self, "GET", None)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A client that timed out hangs up before the answer: not the server's error to print (it
        # would land in the output of the command under test).
        self.httpd.handle_error = lambda request, client_address: None
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- plumbing ------------------------------------------------------------------------------
    def _send(self, h, status: int, payload=None, raw: bytes | None = None, content_type="application/json"):
        data = raw if raw is not None else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("content-type", content_type)
        h.send_header("content-length", str(len(data)))
        h.send_header("retry-after-ms", "5")  # keep the SDKs' backoff short in tests
        h.end_headers()
        h.wfile.write(data)

    def _script(self, kind: str, body: dict) -> dict:
        user = body["messages"][-1]["content"]
        with self._lock:
            call = {"n": len(self.calls) + 1, "kind": kind, "body": body, "user": user}
            self.calls.append(call)
        return self.behaviour(call) or {}

    def _handle(self, h, method: str, body):
        path = h.path.split("?")[0]
        with self._lock:
            self.http_requests.append((method, path))
            self.headers.append((method, path, {k.lower(): v for k, v in h.headers.items()}))
            for header in ("x-api-key", "authorization"):
                if h.headers.get(header):
                    self.api_keys_seen.add(h.headers[header].removeprefix("Bearer "))
        if method == "POST" and path == "/v1/messages":
            self._model_call(h, "anthropic", body)
        elif method == "POST" and path == "/v1/chat/completions":
            self._model_call(h, "openai", body)
        elif path.startswith("/v1/messages/batches") and self._batch_failure(h, method, path):
            pass
        elif method == "POST" and path == "/v1/messages/batches":
            self._batch_create(h, body)
        elif method == "POST" and path.startswith("/v1/messages/batches/") and path.endswith("/cancel"):
            self._batch_cancel(h, path.split("/")[4])
        elif method == "GET" and path.startswith("/v1/messages/batches/") and path.endswith("/results"):
            self._batch_results(h, path.split("/")[4])
        elif method == "GET" and path.startswith("/v1/messages/batches/"):
            self._batch_get(h, path.split("/")[4])
        else:
            self._send(h, 404, {"type": "error", "error": {"type": "not_found_error", "message": path}})

    # --- models --------------------------------------------------------------------------------
    @staticmethod
    def anthropic_message(body: dict, s: dict) -> dict:
        inp, out, cached = s.get("usage", (100, 20, 0))
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                "content": [] if s.get("text") is None else [{"type": "text", "text": s["text"]}],
                "stop_reason": "refusal" if s.get("refusal") else "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": cached,
                          "cache_creation_input_tokens": 0}}

    def _model_call(self, h, kind: str, body: dict):
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            s = self._script(kind, body)
            if s.get("delay"):
                time.sleep(s["delay"])
        finally:
            with self._lock:
                self.in_flight -= 1
        status = s.get("status", 200)
        if s.get("raw") is not None:
            return self._send(h, status, raw=s["raw"])
        if status != 200:
            err = {"type": "error", "error": {"type": "api_error", "message": f"scripted {status}"}} \
                if kind == "anthropic" else {"error": {"message": f"scripted {status}", "type": "server_error"}}
            return self._send(h, status, err)
        if kind == "anthropic":
            return self._send(h, 200, self.anthropic_message(body, s))
        inp, out, cached = s.get("usage", (100, 20, 0))
        message = {"role": "assistant", "content": None if s.get("refusal") else s.get("text"),
                   "refusal": s.get("text") if s.get("refusal") else None}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        if body.get("logprobs") and self.logprobs and s.get("text") is not None:
            choice["logprobs"] = {"content": self.token_logprobs(s, body.get("top_logprobs") or 0), "refusal": None}
        self._send(h, 200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [choice],
                            "usage": {"prompt_tokens": inp + cached, "completion_tokens": out,
                                      "total_tokens": inp + cached + out,
                                      "prompt_tokens_details": {"cached_tokens": cached}}})

    @staticmethod
    def token_logprobs(s: dict, top: int) -> list[dict]:
        """logprobs.content for the scripted text (see the module docstring)."""
        import re

        text = s["text"]
        tokens = s.get("tokens") or re.findall(r"\[\[|\]\]|\w+|\s+|[^\w\s]", text)
        assert "".join(tokens) == text, "scripted tokens must spell the text"
        found = re.search(r"\[\[([ABC])\]\]", text)
        letter_at = found.start(1) if found else -1
        out, start = [], 0
        for tok in tokens:
            entry = {"token": tok, "bytes": list(tok.encode()), "logprob": 0.0, "top_logprobs": []}
            alternatives = {tok: 0.0}
            if start <= letter_at < start + len(tok):
                alternatives = dict(s.get("verdict_logprobs") or {tok: 0.0})
                entry["logprob"] = alternatives.get(tok, 0.0)
            ranked = sorted(alternatives.items(), key=lambda kv: -kv[1])[:top]
            entry["top_logprobs"] = [{"token": t, "bytes": list(t.encode()), "logprob": lp} for t, lp in ranked]
            out.append(entry)
            start += len(tok)
        return out

    # --- message batches -----------------------------------------------------------------------
    def _batch_obj(self, b: dict) -> dict:
        ended = b["polls"] > self.batch_polls_in_progress
        n = len(b["requests"])
        return {"id": b["id"], "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0,
                                   "errored": 0, "canceled": 0, "expired": 0},
                "created_at": "2026-11-22T00:00:00Z", "expires_at": "2026-11-23T00:00:00Z",
                "ended_at": "2026-11-22T00:01:00Z" if ended else None, "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{self.url}/v1/messages/batches/{b['id']}/results" if ended else None}

    def _batch_create(self, h, body: dict):
        bid = f"msgbatch_{next(_BATCH_IDS)}"
        b = {"id": bid, "requests": body["requests"], "polls": 0, "results": None}
        with self._lock:
            self.batches[bid] = b
        self._send(h, 200, self._batch_obj(b))

    def _batch_failure(self, h, method: str, path: str) -> bool:
        """Answer as `batch_failures` scripts for this endpoint; False when it scripts nothing."""
        endpoint = ("create" if method == "POST" and path == "/v1/messages/batches"
                    else "cancel" if path.endswith("/cancel") else "results" if path.endswith("/results") else "get")
        s = self.batch_failures.get(endpoint)
        if not s:
            return False
        status = s.get("status", 200)
        if s.get("raw") is not None:
            self._send(h, status, raw=s["raw"], content_type=s.get("content_type", "application/json"))
        else:
            kind = "not_found_error" if status == 404 else "api_error"
            self._send(h, status, {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}})
        return True

    def _batch_cancel(self, h, bid: str):
        b = self.batches.get(bid)
        if b is None:
            return self._send(h, 404, {"type": "error", "error": {"type": "not_found_error", "message": bid}})
        with self._lock:
            self.canceled.append(bid)
        self._send(h, 200, {**self._batch_obj(b), "processing_status": "canceling"})

    def _batch_get(self, h, bid: str):
        if self.batch_get_status != 200:
            return self._send(h, self.batch_get_status, {"type": "error", "error": {"type": "api_error", "message": "down"}})
        b = self.batches.get(bid)
        if b is None:  # a batch this server never made (another server's, or forgotten)
            return self._send(h, 404, {"type": "error", "error": {"type": "not_found_error", "message": bid}})
        with self._lock:
            b["polls"] += 1
        self._send(h, 200, self._batch_obj(b))

    def _batch_results(self, h, bid: str):
        b = self.batches[bid]
        if b["results"] is None:  # each request is a model call, answered once
            lines = []
            for r in b["requests"]:
                s = self._script("anthropic", r["params"])
                if s.get("batch_result") == "errored":
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": "invalid_request_error", "message": "scripted error"}}}
                elif s.get("batch_result") == "expired":
                    result = {"type": "expired"}
                else:
                    result = {"type": "succeeded", "message": self.anthropic_message(r["params"], s)}
                lines.append({"custom_id": r["custom_id"], "result": result})
            b["results"] = "".join(json.dumps(x) + "\n" for x in lines).encode()
        self._send(h, 200, raw=b["results"], content_type="application/binary")
