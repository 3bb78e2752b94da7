"""Throughput of the SDK-backed providers' hot path, against the local provider simulator.

Streams one long answer (20,000 tokens by default, sent flat out) through OpenAIProvider and
AnthropicProvider and prints tokens per second for each. The figure measures Margin's side of
the stream (SDK, HTTP client, SSE parsing, event objects); the simulator shares the process and
the CPU, so it is a lower bound.

    .venv/bin/python benchmarks/provider_stream.py [--tokens 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from margin.adapters.types import RecordContext, RecordRef
from margin.config import ProviderSettings
from margin.providers import ChatMessage, Provider, ProviderRequest, SummarizeTask, TextDelta, build_provider
from margin.simulator import ProviderSimulator, Scenario


async def _stream_once(provider: Provider, request: ProviderRequest) -> tuple[int, float]:
    deltas = 0
    start = time.perf_counter()
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            deltas += 1
    return deltas, time.perf_counter() - start


async def main(tokens: int, runs: int) -> None:
    request = ProviderRequest(
        task=SummarizeTask(RecordContext(ref=RecordRef(type="deal", id="D-1"), title="Benchmark", version="1")),
        messages=(ChatMessage("system", "Summarize."), ChatMessage("user", "Summarize this record.")),
        max_tokens=tokens,
    )
    async with ProviderSimulator(Scenario(total_tokens=tokens)) as simulator:
        kinds = {
            "openai": simulator.openai_base_url,
            "openai_compatible": simulator.openai_base_url,
            "anthropic": simulator.anthropic_base_url,
        }
        for kind, base_url in kinds.items():
            settings = ProviderSettings(kind=kind, model="sim", api_key="sim", base_url=base_url, max_tokens=tokens)
            provider = build_provider(kind, settings)
            try:
                await _stream_once(provider, request)  # warm-up: imports, first connection
                results = [await _stream_once(provider, request) for _ in range(runs)]
            finally:
                await provider.aclose()
            deltas, seconds = min(results, key=lambda result: result[1])
            print(f"{kind:18} {deltas:>7} tokens  best of {runs}: {seconds * 1000:8.1f} ms  {deltas / seconds:>10,.0f} tokens/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.runs))
