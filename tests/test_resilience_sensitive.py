"""Sensitive-data detection on a generated corpus, look-alikes that must pass, redaction, routing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import pytest

from margin.adapters.types import FieldValue, RecordContext, RecordRef, TimelineEntry
from margin.prompts import fenced_json, record_for_prompt, render_prompt
from margin.providers.base import ProviderError, ProviderRequest
from margin.resilience.config import DataPolicy, SensitiveSettings
from margin.resilience.routing import SensitiveDataBlocked, route
from margin.resilience.sensitive import SensitiveDetector, Sensitivity

DETECTOR = SensitiveDetector()
AT = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


# -- generators of valid sensitive values ---------------------------------------------------------


def luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = body + check
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("6011", 16), ("4", 13)])
    if rng.random() < 0.2:
        number = luhn_complete(rng, rng.choice(["34", "37"]), 15)
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    number = luhn_complete(rng, prefix, length)
    if length == 16:
        sep = rng.choice([" ", "-", ""])
        return sep.join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def iban(rng: random.Random) -> str:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("IT", 27)])
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if country in ("GB", "NL", "IT") else "0123456789"
    bban = "".join(rng.choice(alphabet) for _ in range(length - 4))
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    value = f"{country}{98 - numeric % 97:02d}{bban}"
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value


def phone(rng: random.Random) -> str:
    def d(n: int) -> str:
        return "".join(str(rng.randrange(10)) for _ in range(n))

    area, exchange = str(rng.randrange(2, 10)) + d(2), str(rng.randrange(2, 10)) + d(2)
    return rng.choice(
        [
            f"+44 20 {d(4)} {d(4)}",
            f"+1 ({area}) {exchange}-{d(4)}",
            f"({area}) {exchange}-{d(4)}",
            f"{area}-{exchange}-{d(4)}",
            f"{area}.{exchange}.{d(4)}",
            f"1-800-{exchange}-{d(4)}",
            f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+49 30 {d(8)}",
            f"+4930{d(7)}",
            f"+91 98{d(3)} {d(5)}",
            f"+61 2 {d(4)} {d(4)}",
            f"020 {d(4)} {d(4)}",
            f"030-{d(4)}-{d(4)}",
        ]
    )


def email(rng: random.Random) -> str:
    first = rng.choice(["anna", "j.smith", "li.wei", "o'neil", "maria-luisa", "x_y", "bob+crm"]).replace(
        "'", ""
    )
    domain = rng.choice(["example.com", "acme.co.uk", "mail.globex.io", "sub.domain.example.org"])
    return f"{first}{rng.randrange(100)}@{domain}"


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"


def nino(rng: random.Random) -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        first, second = "A", "B"
    digits = "".join(str(rng.randrange(10)) for _ in range(6))
    if rng.random() < 0.5:
        return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"
    return f"{first}{second}{digits}{rng.choice('ABCD')}"


def sin(rng: random.Random) -> str:
    number = luhn_complete(rng, str(rng.choice([1, 2, 3, 4, 5, 6, 7, 9])), 9)
    sep = rng.choice([" ", "-"])
    return sep.join(number[i : i + 3] for i in range(0, 9, 3))


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "card": card,
    "iban": iban,
    "phone": phone,
    "email": email,
    "us_ssn": ssn,
    "uk_nino": nino,
    "ca_sin": sin,
}
TEMPLATES = [
    "Customer called about the invoice. Contact: {}. Follow up next week.",
    "Updated billing details to {} as requested by the account owner.",
    "{}",
    "Please reach out via {}, they prefer that over the portal.",
    "Note from finance: ({}) confirmed; renewal order ORD-2024-000123 is pending.",
]


def record_with(text: str, fields: tuple[FieldValue, ...] = ()) -> RecordContext:
    return RecordContext(
        ref=RecordRef(type="deal", id="D-7"),
        title="Annual renewal",
        version="3",
        fields=(FieldValue("stage", "Stage", "negotiation"), FieldValue("amount", "Amount", 48000), *fields),
        timeline=(TimelineEntry(at=AT, author="Sam", kind="note", text=text),),
    )


def request_for(record: RecordContext) -> ProviderRequest:
    """The request the summarize feature would send (as margin.features.summarize builds it)."""
    messages = render_prompt(
        "summarize.v1",
        audience="business user",
        record_label=record.ref.type,
        record_json=fenced_json(record_for_prompt(record)),
    )
    return ProviderRequest(record=record, messages=messages)


def corpus() -> list[tuple[str, str, ProviderRequest]]:
    """At least 200 contexts, each carrying one sensitive value of a known kind (and its value)."""
    rng = random.Random(20250601)
    items = []
    for i in range(245):
        kind = list(GENERATORS)[i % len(GENERATORS)]
        value = GENERATORS[kind](rng)
        items.append((kind, value, request_for(record_with(rng.choice(TEMPLATES).format(value)))))
    for i in range(35):  # a field the adapter marks sensitive, whose value leaked into a note
        value = f"Project Nightingale-{i}"
        field = FieldValue("codename", "Codename", value, sensitive=True)
        note = f"Discussed {value} with legal."
        items.append(("field", value, request_for(record_with(note, (field,)))))
    return items


CORPUS = corpus()

LOOK_ALIKES = [
    "Order #4520193 shipped on 2025-05-01.",
    "Renewal order ORD-2024-000123 is pending; invoice INV-884213 paid.",
    "PO-77812-A and PO 2024/0456 were merged.",
    "Ticket 1234567890 escalated to tier 2.",
    "Amount due: 1,234,567.89 EUR; discount 12.5%.",
    "Meeting at 10:30-11:45 on 05-06-2025, room 4.12.",
    "Server 192.168.10.254 runs version v2.14.3 (build 20250601).",
    "ZIP 94105-1234, suite 300.",
    "Tracking 1Z999AA10123456784 via UPS.",
    "Headcount grew +15% to 1 200 seats, +3 500 000 events per day.",
    "SSN-like part number 000-12-3456 and 666-12-3456 and 912-34-5678 are not real.",
    "Serial 123-00-4567 and 123-45-0000 are placeholders.",
    "Reference AB123 and code GB 12 in the catalogue.",
    "Quote Q-2025-06-01-17 accepted.",
    "Contact us at support at example dot com.",
    "Email me @ the usual place.",
    "Room 020-12 on floor 3.",
    "Version 4.1.1 shipped 2025/06/01.",
]


def invalid_luhn(rng: random.Random) -> str:
    valid = card(rng).replace(" ", "").replace("-", "")
    broken = valid[:-1] + str((int(valid[-1]) + rng.randrange(1, 10)) % 10)
    return " ".join(broken[i : i + 4] for i in range(0, len(broken), 4))


def invalid_iban(rng: random.Random) -> str:
    valid = iban(rng).replace(" ", "")
    check = (int(valid[2:4]) + rng.randrange(1, 96)) % 97
    return f"{valid[:2]}{check:02d}{valid[4:]}"


def look_alike_corpus() -> list[str]:
    rng = random.Random(7)
    texts = list(LOOK_ALIKES)
    texts += [f"Card on file ends in a typo: {invalid_luhn(rng)}." for _ in range(60)]
    texts += [f"Wire to {invalid_iban(rng)} failed validation." for _ in range(60)]
    texts += [f"Order {rng.randrange(10**5, 10**9)} / batch B{rng.randrange(1000)}." for _ in range(40)]
    return texts


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 200
    assert {kind for kind, _, _ in CORPUS} == {*GENERATORS, "field"}


@pytest.mark.parametrize(
    ("kind", "value", "request_"), CORPUS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CORPUS)]
)
def test_every_sensitive_value_is_detected(kind: str, value: str, request_: ProviderRequest) -> None:
    decision = DETECTOR.assess(request_, tenant="acme")
    assert decision.sensitive and kind in decision.reasons, (kind, value, decision)
    assert value not in repr(decision)  # reason codes only


@pytest.mark.parametrize("text", look_alike_corpus())
def test_look_alikes_are_not_flagged(text: str) -> None:
    decision = DETECTOR.assess(request_for(record_with(text)), tenant="acme")
    assert decision == Sensitivity(sensitive=False), text


def test_sensitive_fields_count_only_when_their_value_is_sent() -> None:
    salary = FieldValue("salary", "Salary", 85000, sensitive=True)
    assert not DETECTOR.assess(
        request_for(record_with("Nothing special.", (salary,))), tenant="acme"
    ).sensitive
    leaked = DETECTOR.assess(request_for(record_with("Salary is 85000 per year.", (salary,))), tenant="acme")
    assert leaked.reasons == ("field",)
    short = FieldValue("tier", "Tier", "A", sensitive=True)  # too short to search for
    assert not DETECTOR.assess(request_for(record_with("A plan.", (short,))), tenant="acme").sensitive
    quoted = FieldValue("codename", "Codename", 'The "Blue" deal', sensitive=True)  # JSON-escaped in prompts
    decision = DETECTOR.assess(request_for(record_with('Re: The "Blue" deal', (quoted,))), tenant="acme")
    assert decision.reasons == ("field",)


def test_tenant_policy() -> None:
    detector = SensitiveDetector(
        SensitiveSettings(
            tenants={
                "bank": DataPolicy(always_sensitive=True),
                "cards-only": DataPolicy(detect=("card",)),
                "redacting": DataPolicy(on_sensitive="redact"),
            }
        )
    )
    plain = request_for(record_with("Nothing special."))
    assert detector.assess(plain, tenant="bank") == Sensitivity(sensitive=True, reasons=("tenant",))
    with_email = request_for(record_with("Mail anna@example.com"))
    assert not detector.assess(with_email, tenant="cards-only").sensitive
    assert detector.assess(with_email, tenant="redacting") == Sensitivity(
        sensitive=True, reasons=("email",), redactable=True
    )
    assert not detector.assess(with_email, tenant="acme").redactable


def test_redaction_round_trip() -> None:
    text = "Call +44 20 7946 0958 or mail anna@example.com; card 4111 1111 1111 1111; again anna@example.com."
    request = request_for(record_with(text, (FieldValue("code", "Code", "Nightingale", sensitive=True),)))
    request = msgspec.structs.replace(
        request, messages=(*request.messages[:1], msgspec.structs.replace(request.messages[1]))
    )
    redacted, redaction = DETECTOR.redact(request, tenant="acme")
    sent = " ".join(m.content for m in redacted.messages)
    for value in ("+44 20 7946 0958", "anna@example.com", "4111 1111 1111 1111"):
        assert value not in sent
    assert sent.count("«EMAIL_1»") == 2 and "«PHONE_1»" in sent and "«CARD_1»" in sent
    assert not DETECTOR.assess(redacted, tenant="acme").sensitive
    answer = "Reach «EMAIL_1» or «PHONE_1». Unknown «OTHER_9» stays."
    assert redaction.restore(answer) == "Reach anna@example.com or +44 20 7946 0958. Unknown «OTHER_9» stays."


def test_stream_restorer_handles_placeholders_split_anywhere() -> None:
    _, redaction = DETECTOR.redact(request_for(record_with("anna@example.com, 4111111111111111")), tenant="t")
    answer = "Write to «EMAIL_1» today; card «CARD_1» «is» fine. «Bonjour» «EMAIL_1»"
    expected = redaction.restore(answer)
    assert "anna@example.com" in expected and "4111111111111111" in expected
    for cut in range(len(answer)):  # every two-delta split
        restorer = redaction.restorer()
        assert restorer.feed(answer[:cut]) + restorer.feed(answer[cut:]) + restorer.flush() == expected
    rng = random.Random(3)
    for _ in range(200):  # random many-delta splits
        cuts = sorted(rng.sample(range(1, len(answer)), rng.randrange(1, 20)))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
        restorer = redaction.restorer()
        assert "".join(restorer.feed(p) for p in pieces) + restorer.flush() == expected
    restorer = redaction.restorer()
    assert restorer.feed("ends with «EMA") == "ends with " and restorer.flush() == "«EMA"


def test_detection_is_fast_on_a_20_kb_record() -> None:
    rng = random.Random(1)
    notes = [
        TimelineEntry(
            at=AT, author="Sam", kind="note", text=" ".join(rng.choice(LOOK_ALIKES) for _ in range(4))
        )
        for _ in range(85)
    ]
    record = msgspec.structs.replace(record_with("x"), timeline=tuple(notes))
    request = request_for(record)
    size = sum(len(m.content) for m in request.messages)
    assert size >= 20_000
    DETECTOR.assess(request, tenant="acme")
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        DETECTOR.assess(request, tenant="acme")
    per_call_ms = (time.perf_counter() - started) * 1000 / runs
    print(f"assess on {size / 1000:.1f} KB: {per_call_ms:.2f} ms")
    assert per_call_ms < 50


# -- routing --------------------------------------------------------------------------------------


class P(msgspec.Struct, frozen=True):
    name: str
    model: str
    local: bool


OPENAI, ANTHROPIC = P("openai", "gpt", False), P("anthropic", "claude", False)
LOCAL, OFFLINE = P("local", "llama", True), P("offline", "margin-offline-1", True)
SENSITIVE = Sensitivity(sensitive=True, reasons=("card", "email"))


def test_route_keeps_the_chain_when_nothing_is_sensitive() -> None:
    chain = [OPENAI, ANTHROPIC, OFFLINE]
    assert route(chain, Sensitivity(sensitive=False)).providers == tuple(chain)


def test_sensitive_requests_only_reach_local_providers() -> None:
    decision = route([ANTHROPIC, OPENAI, LOCAL, OFFLINE], SENSITIVE)
    assert decision.providers == (LOCAL, OFFLINE) and decision.excluded == ("anthropic", "openai")
    assert decision.log_fields() == {
        "sensitive": True,
        "sensitive_reasons": ["card", "email"],
        "redacted_for": [],
        "excluded_providers": ["anthropic", "openai"],
    }
    assert route([OPENAI, OFFLINE], SENSITIVE).providers == (OFFLINE,)  # local model not configured


def test_no_local_provider_fails_closed() -> None:
    with pytest.raises(SensitiveDataBlocked) as caught:
        route([OPENAI, ANTHROPIC], SENSITIVE)
    assert isinstance(caught.value, ProviderError) and caught.value.code == "sensitive_data"
    assert "Nothing was sent" in caught.value.user_message
    assert "card, email" in caught.value.message


def test_redactable_requests_keep_cloud_providers_with_placeholders() -> None:
    decision = route([OPENAI, LOCAL, OFFLINE], msgspec.structs.replace(SENSITIVE, redactable=True))
    assert decision.providers == (OPENAI, LOCAL, OFFLINE)
    assert decision.needs_redaction(OPENAI) and not decision.needs_redaction(LOCAL)


@pytest.mark.parametrize("chain", [[OPENAI, ANTHROPIC, LOCAL, OFFLINE], [ANTHROPIC, OPENAI, OFFLINE]])
def test_no_corpus_request_routes_to_the_cloud(chain: list[P]) -> None:
    """With the local model in the chain and without it (down / not configured)."""
    for _, _, request in CORPUS:
        assert all(p.local for p in route(chain, DETECTOR.assess(request, tenant="acme")).providers)
