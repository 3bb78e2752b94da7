"""Speed of sensitive-data detection and redaction on a 20 KB record, as the summarize prompt sends it.

Two records: ``prose`` (CRM notes with dates, amounts, ticket numbers, one e-mail address) and
``dense`` (every line full of numbers that look like cards, phones or IBANs and are not, the
worst case for the digit-run scan). Prints milliseconds per call (best of ``--runs`` batches).

    .venv/bin/python benchmarks/resilience_sensitive.py [--kb 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from margin.adapters.types import FieldValue, RecordContext, RecordRef, TimelineEntry
from margin.prompts import fenced_json, record_for_prompt, render_prompt
from margin.providers.base import ProviderRequest
from margin.resilience.sensitive import SensitiveDetector

PROSE = [
    "Customer renewed the annual plan after a call about pricing on 2025-05-12.",
    "Support closed tickets #4521 and #4522; the owner booked a review for next week.",
    "Budget is $48,000 for 120 seats; the champion is Dana from procurement.",
    "Integration is delayed by two weeks, status update promised for Friday 14:00.",
    "Usage grew 18% this quarter; asked for a training session for 25 new staff.",
]
DENSE = [
    "Order 4520193 / batch B-77, invoice INV-884213 for 1,234,567.89 EUR.",
    "Card-like 4111 1111 1111 1112 and IBAN-like DE00 3704 0044 0532 0130 00 (invalid).",
    "Tracking 1Z999AA10123456784, PO 2024/0456, ZIP 94105-1234, ticket 1234567890.",
    "Meeting 10:30-11:45 on 05-06-2025, version v2.14.3, host 192.168.10.254.",
]


def request_of(lines: list[str], kb: int, rng: random.Random) -> ProviderRequest:
    at = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
    notes: list[TimelineEntry] = []
    record = RecordContext(ref=RecordRef(type="deal", id="D-7"), title="Renewal", version="3")
    while True:
        text = " ".join(rng.choice(lines) for _ in range(3))
        if len(notes) == 10:
            text += " Contact: dana.smith@example.com."
        notes.append(TimelineEntry(at=at, author="Sam", kind="note", text=text))
        record = RecordContext(
            ref=record.ref,
            title=record.title,
            version=record.version,
            fields=(
                FieldValue("owner", "Owner", "alice"),
                FieldValue("ssn", "SSN", "078-05-1120", sensitive=True),
            ),
            timeline=tuple(notes),
        )
        messages = render_prompt(
            "summarize.v1",
            audience="business user",
            record_label="deal",
            record_json=fenced_json(record_for_prompt(record)),
        )
        if sum(len(m.content) for m in messages) >= kb * 1000:
            return ProviderRequest(record=record, messages=messages)


def best_ms(call: Callable[[], object], runs: int, per_run: int = 50) -> float:
    call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(per_run):
            call()
        timings.append((time.perf_counter() - started) * 1000 / per_run)
    return min(timings)


def main(kb: int, runs: int) -> None:
    detector = SensitiveDetector()
    rng = random.Random(1)
    for name, lines in (("prose", PROSE), ("dense", DENSE)):
        request = request_of(lines, kb, rng)
        size = sum(len(m.content) for m in request.messages) / 1000
        decision = detector.assess(request, tenant="acme")
        assess = best_ms(lambda request=request: detector.assess(request, tenant="acme"), runs)
        redact = best_ms(lambda request=request: detector.redact(request, tenant="acme"), runs)
        print(
            f"{name:6} {size:5.1f} KB  assess {assess:6.2f} ms  redact {redact:6.2f} ms"
            f"  -> sensitive={decision.sensitive} reasons={list(decision.reasons)}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    main(args.kb, args.runs)
