"""Tools for testing and benchmarking Margin, shipped for integrators too.

:class:`ProviderSimulator` speaks the OpenAI and Anthropic streaming wire formats on loopback
and can script every fault, so tests and benchmarks need no keys and no network. Nothing in
the request path imports this package.
"""

from margin.testing.simulator import ProviderSimulator, Scenario, SimRequest

__all__ = ["ProviderSimulator", "Scenario", "SimRequest"]
