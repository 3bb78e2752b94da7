"""Cost of an interaction from the providers' prices, and the token estimate a budget reserves."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Protocol

from margin.providers.base import ProviderRequest


class PricedProvider(Protocol):
    """Anything with prices per million tokens (``ProviderSettings`` is one)."""

    @property
    def input_usd_per_mtok(self) -> float: ...

    @property
    def output_usd_per_mtok(self) -> float: ...


class Pricing:
    """Prices per provider name; a provider missing from the table costs nothing."""

    def __init__(self, prices: Mapping[str, PricedProvider]) -> None:
        self._prices = {
            name: (price.input_usd_per_mtok, price.output_usd_per_mtok) for name, price in prices.items()
        }

    def cost(self, provider: str, input_tokens: int, output_tokens: int) -> float:
        input_price, output_price = self._prices.get(provider, (0.0, 0.0))
        return (input_tokens * input_price + output_tokens * output_price) / 1_000_000

    def estimate(self, providers: Iterable[str], input_tokens: int, output_tokens: int) -> float:
        """The most the interaction can cost on any provider of the chain it may walk."""
        return max((self.cost(name, input_tokens, output_tokens) for name in providers), default=0.0)


def estimate_tokens(
    request: ProviderRequest, provider_max_tokens: int, chars_per_token: float = 3.0
) -> tuple[int, int]:
    """(input, output) upper estimates: prompt characters over ``chars_per_token``, and the
    output cap (the request's, within ``provider_max_tokens``: the largest cap in the chain)."""
    chars = sum(len(message.content) for message in request.messages)
    output = min(request.max_tokens or provider_max_tokens, provider_max_tokens)
    return math.ceil(chars / chars_per_token) + 4 * len(request.messages), output
