"""CPU cost of the cloud providers' streaming path, against the provider simulator.

Streams short answers (20 tokens by default, ttft 0, no pacing) through OpenAIProvider (kinds
openai and openai_compatible) and AnthropicProvider and prints the CPU milliseconds this
process spends per request (``time.process_time``), for N sequential requests and for N
requests run C at a time. The simulator runs in a child process, so its CPU is not counted:
the figures are Margin's side of a stream (request building, HTTP, SSE parsing, events).

``--transport`` picks the streaming path: ``lean`` (Margin's own keep-alive HTTP client,
the default path), ``sdk`` (the official SDK's streaming response, the fallback path when a
proxy applies) or ``both``. ``--long`` adds the old throughput figure: one long answer,
tokens per second.

    .venv/bin/python benchmarks/provider_stream.py [--tokens 20] [--requests 300]
        [--concurrency 50] [--transport both] [--long 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import socket
import time
from typing import Literal

import structlog

from margin.providers import ChatMessage, Provider, ProviderRequest, TextDelta
from margin.providers.anthropic_provider import AnthropicProvider
from margin.providers.openai_provider import OpenAIProvider
from margin.providers.settings import ProviderSettings
from margin.testing.simulator import Scenario, run_simulator

Kind = Literal["openai", "openai_compatible", "anthropic"]
KINDS: tuple[Kind, ...] = ("openai", "openai_compatible", "anthropic")
HOST = "127.0.0.1"


def _serve(port: int, tokens: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    run_simulator(HOST, port, Scenario(total_tokens=tokens))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_request(tokens: int) -> ProviderRequest:
    messages = (ChatMessage("system", "Summarize."), ChatMessage("user", "Summarize this record."))
    return ProviderRequest(messages=messages, max_tokens=tokens)


def make_provider(kind: Kind, base: str, tokens: int, transport: str) -> Provider:
    url = base if kind == "anthropic" else base + "/v1"
    settings = ProviderSettings(
        kind=kind, model="sim", api_key="sim", base_url=url, max_tokens=max(tokens, 1)
    )
    cls = AnthropicProvider if kind == "anthropic" else OpenAIProvider
    return cls(kind, settings, lean=transport == "lean")


async def stream_once(provider: Provider, request: ProviderRequest) -> int:
    deltas = 0
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            deltas += 1
    return deltas


async def measure(
    provider: Provider, request: ProviderRequest, n: int, concurrency: int
) -> tuple[float, float]:
    """CPU ms and wall ms per request for ``n`` requests, ``concurrency`` at a time."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> int:
        async with semaphore:
            return await stream_once(provider, request)

    cpu, wall = time.process_time(), time.perf_counter()
    counts = await asyncio.gather(*(one() for _ in range(n)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert all(count == counts[0] > 0 for count in counts), counts[:5]
    return cpu * 1000 / n, wall * 1000 / n


async def run(base: str, args: argparse.Namespace) -> None:
    transports = ["sdk", "lean"] if args.transport == "both" else [args.transport]
    request = make_request(args.tokens)
    print(
        f"{args.tokens} tokens per answer, {args.requests} requests per figure; CPU ms per request (wall ms)"
    )
    for kind in KINDS:
        for transport in transports:
            provider = make_provider(kind, base, args.tokens, transport)
            try:
                await measure(provider, request, 30, 10)  # warm-up: lazy imports, connections
                seq_cpu, seq_wall = await measure(provider, request, args.requests, 1)
                con_cpu, con_wall = await measure(provider, request, args.requests, args.concurrency)
            finally:
                await provider.aclose()
            print(
                f"{kind:18} {transport:5}  sequential {seq_cpu:6.2f} ({seq_wall:6.2f})"
                f"   {args.concurrency} at a time {con_cpu:6.2f} ({con_wall:6.2f})"
            )
    if args.long:
        long_request = make_request(args.long)
        print(f"\none answer of {args.long} tokens (simulator default scenario: --tokens), best of 3")
        for kind in KINDS:
            for transport in transports:
                provider = make_provider(kind, base, args.long, transport)
                try:
                    await stream_once(provider, long_request)
                    best = float("inf")
                    deltas = 0
                    for _ in range(3):
                        start = time.perf_counter()
                        deltas = await stream_once(provider, long_request)
                        best = min(best, time.perf_counter() - start)
                finally:
                    await provider.aclose()
                print(
                    f"{kind:18} {transport:5}  {deltas:>7} tokens {best * 1000:8.1f} ms"
                    f" {deltas / best:>10,.0f} tok/s"
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--transport", choices=["lean", "sdk", "both"], default="both")
    parser.add_argument("--long", type=int, default=0, metavar="TOKENS")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    port = _free_port()
    tokens = max(args.tokens, args.long)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, tokens), daemon=True)
    server.start()
    try:
        _wait_listening(port)
        asyncio.run(run(f"http://{HOST}:{port}", args))
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
