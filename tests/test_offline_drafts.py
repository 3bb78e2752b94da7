"""Template drafts: every kind renders from the record and the instruction; unknown kinds fail clearly."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest
from offline_fixtures import ACME_DEAL, EMPTY_RECORD, GLOBEX_CASE

from margin.adapters.types import FieldValue
from margin.features.draft import DraftKind
from margin.providers.base import ProviderBadRequest
from margin.providers.offline.drafts import render_draft, rephrase_instruction

DRAFT_KINDS = get_args(DraftKind)
INSTRUCTION = "tell them their discount expires on Friday"


@pytest.mark.parametrize("kind", DRAFT_KINDS)
def test_every_kind_renders_with_the_records_names_and_the_instruction(kind: str) -> None:
    text = render_draft(ACME_DEAL, kind, INSTRUCTION)
    assert "Acme Corp platform renewal" in text
    assert "send the final order form by March 14" in text, "the latest open point"
    assert "discount expires on Friday" in text
    assert "{{" not in text
    assert "None" not in text
    assert "\n\n\n" not in text


@pytest.mark.parametrize("kind", ["follow_up_email", "case_reply", "meeting_request"])
def test_messages_greet_the_contact_and_are_signed_by_the_owner(kind: str) -> None:
    text = render_draft(ACME_DEAL, kind, INSTRUCTION)
    assert next(line for line in text.splitlines() if line.startswith("Hi ")) == "Hi Dana,"
    assert text.endswith("\nAlice Chen")
    assert "Your discount expires on Friday." in text


def test_follow_up_email() -> None:
    text = render_draft(ACME_DEAL, "follow_up_email")
    assert text.startswith("Subject: Following up: Acme Corp platform renewal\n\nHi Dana,\n")
    assert "the Acme Corp team" in text
    assert "(currently: negotiation)" in text
    assert 'You mentioned: "Can you send the final order form by March 14' in text


def test_meeting_request() -> None:
    text = render_draft(ACME_DEAL, "meeting_request", "mention that we can meet in Boston on Tuesday")
    assert text.startswith("Subject: Meeting request: Acme Corp platform renewal")
    assert "We can meet in Boston on Tuesday." in text


def test_internal_note_lists_facts_and_keeps_the_instruction_verbatim() -> None:
    text = render_draft(ACME_DEAL, "internal_note", INSTRUCTION)
    assert text.startswith("Internal note: Deal D-1001 - Acme Corp platform renewal")
    assert "Amount: $84,000" in text
    assert "Latest open point (Dana Reyes, Mar 4, 2025):" in text
    assert text.endswith(f"Note: {INSTRUCTION}")
    assert "41.5%" not in text
    assert "Margin" not in text


def test_case_reply_for_an_open_case() -> None:
    text = render_draft(
        GLOBEX_CASE, "case_reply", "mention that a workaround is to export one week at a time"
    )
    assert text.startswith(
        'Hi Hank,\n\nThank you for getting in touch about "Invoices export fails with a timeout"'
    )
    assert "(case C-2001)" in text
    assert "Is there a workaround until the fix ships?" in text
    assert "with high priority" in text
    assert "A workaround is to export one week at a time." in text
    assert text.endswith("Kind regards,\nBob Marley")
    assert "555 0100" not in text


def test_case_reply_for_a_solved_case() -> None:
    solved = msgspec.structs.replace(
        GLOBEX_CASE,
        fields=tuple(
            FieldValue("status", "Status", "solved", "enum") if f.name == "status" else f
            for f in GLOBEX_CASE.fields
        ),
    )
    text = render_draft(solved, "case_reply")
    assert "This case is now marked as solved." in text
    assert "looking into this" not in text


def test_a_bare_record_still_gives_a_usable_draft() -> None:
    text = render_draft(EMPTY_RECORD, "follow_up_email")
    assert "Hi there," in text
    assert text.endswith("[Your name]")


def test_record_text_cannot_forge_extra_lines() -> None:
    hostile = msgspec.structs.replace(
        ACME_DEAL, title="Renewal\nSubject: Wire $1M to account 42\n\nBcc: evil"
    )
    text = render_draft(hostile, "follow_up_email")
    assert sum(line.startswith("Subject:") for line in text.splitlines()) == 1
    assert not any(line.startswith("Bcc:") for line in text.splitlines())
    assert text.splitlines()[0] == "Subject: Following up: Renewal Subject: Wire $1M to account 42 Bcc: evil"


def test_unknown_kind_is_a_bad_request_naming_the_kind_and_the_known_ones() -> None:
    with pytest.raises(ProviderBadRequest) as raised:
        render_draft(ACME_DEAL, "sonnet")
    assert "'sonnet'" in raised.value.message
    for kind in DRAFT_KINDS:
        assert kind in raised.value.message


@pytest.mark.parametrize(
    ("instruction", "sentence"),
    [
        ("tell them their discount expires on Friday", "Your discount expires on Friday."),
        ("Please say that we can offer 10% off.", "We can offer 10% off."),
        ("remind them the contract renews on 1 May", "A quick reminder: the contract renews on 1 May."),
        ("ask them to confirm the PO number", "Could you confirm the PO number?"),
        ("ask whether they need SSO", "Could you let me know whether you need SSO?"),
        ("apologize for the delay", "I'm sorry for the delay."),
        ("thank them for their patience", "Thank you for your patience."),
        ("confirm that their refund was issued", "I can confirm that your refund was issued."),
        ("mention our new pricing", "I also wanted to mention our new pricing."),
        ("we ship on Monday", "We ship on Monday."),
        ("what\ndo you think?", "What do you think?"),
    ],
)
def test_instructions_become_sentences_of_the_draft(instruction: str, sentence: str) -> None:
    assert rephrase_instruction(instruction) == sentence
