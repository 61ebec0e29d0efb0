#!/usr/bin/python3
"""The modelflags request loop in Python: model_for -> call the model -> report.

Uses psycopg 3 (Debian's python3-psycopg) and the standard library only.

    python3 examples/clients/request_loop.py --dsn "dbname=app" \
        --llm http://127.0.0.1:8080 --feature code_generations --requests 20

Each request asks modelflags which model to use, calls it (here: an HTTP API
at --llm, POST {llm}/{provider}/v1/complete), and reports the outcome and the
latency.  When the model keeps failing, its circuit breaker opens and
model_for answers with the next route, with no human in the loop; after the
cool-down a few probe calls go back to it, and their reports close it again.
The service needs EXECUTE on modelflags.report (see README, "Health").
"""
import argparse
import json
import socket
import time
import urllib.error
import urllib.request

import psycopg


def classify(status):
    """An HTTP status as a modelflags outcome."""
    if 200 <= status < 300:
        return "ok"
    if status in (429, 529):
        return "rate_limited"
    if status in (408, 504):
        return "timeout"
    if 400 <= status < 500:
        return "client_error"   # our mistake: never counts against the model
    return "error"


def call_model(llm, provider, params, prompt, timeout):
    """Calls the model; returns (outcome, text)."""
    body = json.dumps({"params": params, "prompt": prompt}).encode()
    req = urllib.request.Request(f"{llm}/{provider}/v1/complete", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return classify(resp.status), json.load(resp).get("text", "")
    except urllib.error.HTTPError as e:
        return classify(e.code), ""
    except (socket.timeout, TimeoutError):
        return "timeout", ""
    except urllib.error.URLError:
        return "error", ""      # connection refused, DNS, TLS: the provider's side


def handle(conn, llm, feature, actor, prompt, timeout=30.0):
    """One request: which model, call it, report how it went."""
    model, provider, params, degraded = conn.execute(
        "SELECT model, provider, params, degraded FROM modelflags.model_for(%s, %s)",
        (feature, actor)).fetchone()
    start = time.monotonic()
    outcome, text = call_model(llm, provider, params, prompt, timeout)
    latency_ms = (time.monotonic() - start) * 1000.0
    conn.execute("SELECT modelflags.report(%s, %s, %s, %s)",
                 (feature, model, outcome, latency_ms))
    return model, outcome, degraded, text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--llm", required=True, help="base URL of the LLM API")
    ap.add_argument("--feature", default="code_generations")
    ap.add_argument("--actor", default="User:42")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between requests")
    args = ap.parse_args()

    # Autocommit: each statement is its own transaction, so every request
    # sees the breakers (and the routing tables) as they are now.
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        for i in range(1, args.requests + 1):
            model, outcome, degraded, _ = handle(conn, args.llm, args.feature, args.actor,
                                                 f"request {i}")
            print(f"request {i} model={model} outcome={outcome} degraded={str(degraded).lower()}",
                  flush=True)
            time.sleep(args.interval)


if __name__ == "__main__":
    main()
