#!/usr/bin/python3
"""A fake LLM API on loopback, for the client tests (test/health/clients.sh).

    fake_llm.py --fail anthropic:5 --max-seconds 120

Listens on 127.0.0.1, on a port the system picks, prints "port N" once it
listens, and answers POST /<provider>/v1/complete with {"text": ...}.
--fail PROVIDER:N makes the first N requests to PROVIDER fail with 503
(an outage), and the later ones succeed (the provider is back).  Every
request is logged on stderr.  It stops by itself after --max-seconds.
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
seen = {}
fail_first = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        parts = self.path.strip("/").split("/")
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if len(parts) != 3 or parts[1:] != ["v1", "complete"]:
            self.send_response(404)
            self.end_headers()
            return
        provider = parts[0]
        with lock:
            seen[provider] = seen.get(provider, 0) + 1
            n = seen[provider]
        failing = n <= fail_first.get(provider, 0)
        sys.stderr.write(f"{provider} request {n}: {'503' if failing else '200'}\n")
        if failing:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b'{"error": "overloaded"}')
            return
        out = json.dumps({"text": f"{provider} answers {body.get('prompt', '')}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fail", action="append", default=[], metavar="PROVIDER:N")
    ap.add_argument("--max-seconds", type=float, default=120)
    args = ap.parse_args()
    for f in args.fail:
        provider, n = f.split(":")
        fail_first[provider] = int(n)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Timer(args.max_seconds, server.shutdown).start()
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
