"""End-to-end streaming throughput: simulator -> OpenAI SDK raw stream -> Margin -> SSE client.

Runs the provider simulator and a Margin server (uvicorn) as separate processes on loopback,
streams long summaries through ``POST /v1/summarize`` and prints tokens per second as the
client sees them, plus Margin's resident memory before and after.

    .venv/bin/python benchmarks/relay_throughput.py [--tokens 20000] [--streams 4] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from margin.auth import mint_token

SECRET = "benchmark-secret-0123456789abcdefghij"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one_stream(client: httpx.AsyncClient, url: str, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    deltas = 0
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    body = {"record": {"type": "deal", "id": "D-1001"}}
    async with client.stream("POST", f"{url}/v1/summarize", json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line == "event: delta":
                deltas += 1
            elif line == "event: error":
                raise RuntimeError("stream failed")
    return deltas, time.perf_counter() - started


async def run(url: str, streams: int, concurrency: int) -> tuple[int, float]:
    token = mint_token(SECRET, tenant="bench", user_id="bench", roles=["manager"], ttl_s=3600)
    async with httpx.AsyncClient(timeout=120) as client:
        started = time.perf_counter()
        total = 0
        for _ in range(0, streams, concurrency):
            results = await asyncio.gather(*(one_stream(client, url, token) for _ in range(concurrency)))
            total += sum(deltas for deltas, _ in results)
        return total, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=20000, help="tokens per stream")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()

    sim_port, margin_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="margin-bench-")
    env = {
        **os.environ,
        "MARGIN_DATA_DIR": data_dir,
        "MARGIN_LOG_LEVEL": "warning",
        "MARGIN_PROVIDERS__SIM__KIND": "openai_compatible",
        "MARGIN_PROVIDERS__SIM__MODEL": "sim-model",
        "MARGIN_PROVIDERS__SIM__BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "MARGIN_PROVIDERS__SIM__API_KEY": "sim",
        "MARGIN_PROVIDERS__SIM__MAX_TOKENS": str(args.tokens),
        "MARGIN_CHAINS__DEFAULT": "sim",
        "MARGIN_TENANTS__BENCH__SECRET": SECRET,
        "MARGIN_TENANTS__BENCH__ADAPTERS": "demo_crm",
        "MARGIN_MODE": "demo",  # the demo CRM supplies the record being summarised
        "MARGIN_LOG_FORMAT": "json",
        "MARGIN_RESILIENCE__CACHE__ENABLED": "false",  # every stream must reach the provider
    }
    margin_cli = [sys.executable, "-m", "margin"]
    sim_cmd = [
        *margin_cli,
        "simulate-provider",
        "--port",
        str(sim_port),
        "--total-tokens",
        str(args.tokens),
        "--ttft-ms",
        "0",
        "--tokens-per-s",
        "0",
    ]
    serve_cmd = [*margin_cli, "serve", "--port", str(margin_port)]
    with subprocess.Popen(sim_cmd, env=env, stdout=subprocess.DEVNULL) as sim, \
         subprocess.Popen(serve_cmd, env=env, stdout=subprocess.DEVNULL) as margin:  # fmt: skip
        try:
            url = f"http://127.0.0.1:{margin_port}"
            wait_for(f"http://127.0.0.1:{sim_port}/_sim/requests")
            wait_for(f"{url}/healthz")
            asyncio.run(run(url, 1, 1))  # warm-up
            before = rss_mib(margin.pid)
            tokens, seconds = asyncio.run(run(url, args.streams, args.concurrency))
            after = rss_mib(margin.pid)
        finally:
            sim.terminate()
            margin.terminate()
    print(f"streams: {args.streams} x {args.tokens} tokens, concurrency {args.concurrency}")
    print(f"relay throughput: {tokens / seconds:,.0f} tokens/s ({tokens} delta events in {seconds:.2f} s)")
    print(f"margin RSS: {before:.1f} MiB before, {after:.1f} MiB after")


if __name__ == "__main__":
    main()
