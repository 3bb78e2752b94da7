"""Throughput of the SDK-backed providers' hot path, against the local provider simulator.

Streams one long answer (20,000 tokens by default, sent flat out) through OpenAIProvider
(kinds openai and openai_compatible) and AnthropicProvider, and prints tokens per second for
each: the SDK, the HTTP client, SSE parsing and event objects, i.e. Margin's side of a stream.
The simulator shares the process and the CPU, so the figures are lower bounds.

    .venv/bin/python benchmarks/provider_stream.py [--tokens 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from typing import Literal

import structlog

from margin.adapters.types import RecordContext, RecordRef
from margin.config import ProviderSettings
from margin.providers import ChatMessage, Provider, ProviderRequest, SummarizeTask, TextDelta, build_provider
from margin.simulator import ProviderSimulator, Scenario

Kind = Literal["openai", "openai_compatible", "anthropic"]
KINDS: tuple[Kind, ...] = ("openai", "openai_compatible", "anthropic")


async def stream_once(provider: Provider, request: ProviderRequest) -> tuple[int, float]:
    deltas = 0
    start = time.perf_counter()
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            deltas += 1
    return deltas, time.perf_counter() - start


async def main(tokens: int, runs: int) -> None:
    record = RecordContext(ref=RecordRef(type="deal", id="D-1"), title="Benchmark", version="1")
    request = ProviderRequest(
        task=SummarizeTask(record),
        messages=(ChatMessage("system", "Summarize."), ChatMessage("user", "Summarize this record.")),
        max_tokens=tokens,
    )
    async with ProviderSimulator(Scenario(total_tokens=tokens)) as simulator:
        for kind in KINDS:
            base_url = simulator.anthropic_base_url if kind == "anthropic" else simulator.openai_base_url
            settings = ProviderSettings(
                kind=kind, model="sim", api_key="sim", base_url=base_url, max_tokens=tokens
            )
            provider = build_provider(kind, settings)
            try:
                await stream_once(provider, request)  # warm-up: lazy imports, first connection
                results = [await stream_once(provider, request) for _ in range(runs)]
            finally:
                await provider.aclose()
            deltas, seconds = min(results, key=lambda result: result[1])
            rate = deltas / seconds
            print(
                f"{kind:18} {deltas:>7} tokens  best of {runs}: {seconds * 1000:7.1f} ms  {rate:>9,.0f} tok/s"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The simulator logs each request; keep the output to the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(args.tokens, args.runs))
