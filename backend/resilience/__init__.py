"""Resilience: what keeps answers coming when providers, Redis or budgets misbehave.

One module per job: ``shared_state`` (Redis with an in-process fallback), ``breaker``
(circuit breakers), ``limits`` and ``pricing`` (rate limits and budgets), ``cache`` and
``singleflight`` (response cache), ``sensitive`` and ``routing`` (sensitive-data detection and
where it may go), ``timeouts`` and ``retry`` (time limits and backoff), ``config`` (settings).
Import from the module that owns a name.
"""
