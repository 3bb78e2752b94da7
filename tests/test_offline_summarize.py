"""Extractive summaries: real facts, informative sentences, no sensitive data, no markdown injection."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import msgspec
from offline_fixtures import ACME_DEAL, EMPTY_RECORD, GLOBEX_CASE

from margin.adapters.types import FieldValue, RecordContext, RecordRef, TimelineEntry
from margin.providers.offline.summarize import summarize


def _bullets(text: str, after: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(after) + 1
    return [line for line in lines[start:] if line.startswith("- ")]


def test_deal_summary_names_the_key_facts() -> None:
    text = summarize(ACME_DEAL)
    assert text.startswith("**Deal: Acme Corp platform renewal**\n")
    for fact in (
        "- Stage: Negotiation",
        "- Amount: $84,000",
        "- Account: Acme Corp",
        "- Owner: Alice Chen",
        "- Close date: Mar 31, 2025",
    ):
        assert fact in text
    assert text.endswith("Last activity: email by Dana Reyes on Mar 4, 2025 11:05.")


def test_case_summary_names_the_key_facts() -> None:
    text = summarize(GLOBEX_CASE)
    for fact in ("- Status: Open", "- Priority: High", "- Customer: Globex", "- Assignee: Bob Marley"):
        assert fact in text
    assert text.endswith("Last activity: comment by Hank Scorpio on Mar 12, 2025 10:03.")


def test_informative_sentences_beat_filler() -> None:
    activity = "\n".join(_bullets(summarize(ACME_DEAL), "Recent activity:"))
    assert "Legal agreed to the redlines." in activity
    assert "Budget for next year is approved at $90,000." in activity
    assert "send the final order form by March 14" in activity
    for filler in ("Thanks for the call", "Sounds good", "Great, thanks", "Ok.", "the weather"):
        assert filler not in activity


def test_the_latest_open_question_is_kept() -> None:
    activity = _bullets(summarize(GLOBEX_CASE), "Recent activity:")
    assert activity[-1] == "- Mar 12 · Hank Scorpio (comment): Is there a workaround until the fix ships?"
    assert not any("Thanks" in line for line in activity)


def test_activity_is_in_chronological_order_and_short() -> None:
    activity = _bullets(summarize(ACME_DEAL), "Recent activity:")
    assert 3 <= len(activity) <= 5
    days = [datetime.strptime(line[2:8].strip(), "%b %d").replace(year=2025) for line in activity]
    assert days == sorted(days)


def test_summaries_are_deterministic_whatever_the_timeline_order() -> None:
    shuffled = msgspec.structs.replace(ACME_DEAL, timeline=tuple(reversed(ACME_DEAL.timeline)))
    assert summarize(ACME_DEAL) == summarize(ACME_DEAL) == summarize(shuffled)


def test_sensitive_fields_are_never_printed() -> None:
    deal, case = summarize(ACME_DEAL), summarize(GLOBEX_CASE)
    assert "Margin" not in deal
    assert "41.5%" not in deal
    assert "555 0100 777" not in case
    assert "phone" not in case.lower()


def test_empty_fields_are_skipped() -> None:
    assert "Next step" not in summarize(ACME_DEAL)


def test_near_identical_sentences_appear_once() -> None:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    sentence = "The customer asked for a 10% discount on the $40,000 renewal before March 20."
    record = RecordContext(
        ref=RecordRef(type="deal", id="D-5"),
        title="Renewal",
        version="1",
        timeline=(
            TimelineEntry(start, "Ann", "email", sentence),
            TimelineEntry(
                start + timedelta(days=1), "Ann", "note", sentence.replace("The customer", "Customer")
            ),
        ),
    )
    assert summarize(record).count("10% discount") == 1


def test_untrusted_text_cannot_inject_markdown_structure() -> None:
    record = RecordContext(
        ref=RecordRef(type="case", id="C-9"),
        title="Broken **bold** title\n# Heading",
        version="1",
        fields=(FieldValue("status", "Status", "open\n- fake bullet", "enum"),),
        timeline=(
            TimelineEntry(
                datetime(2025, 3, 1, 9),
                "Eve\n# Author",
                "email",
                "Please escalate the refund of $500 by Friday.\n\n# Injected heading\n"
                "[click here](javascript:alert(1)) <script>alert(1)</script> was blocked on March 3.",
            ),
        ),
    )
    text = summarize(record)
    for line in text.splitlines():
        assert line == "" or line.startswith(("**", "- ", "Recent activity:", "Last activity:"))
    assert "<script>" not in text
    assert not re.search(r"(?<!\\)\]\(", text), "an unescaped link"
    assert "\\[click here\\]" in text
    assert text.splitlines()[0] == "**Case: Broken \\*\\*bold\\*\\* title \\# Heading**"


def test_money_and_dates_are_formatted_for_people() -> None:
    record = RecordContext(
        ref=RecordRef(type="deal", id="D-6"),
        title="Euro deal",
        version="1",
        fields=(
            FieldValue("amount", "Amount", "48250.5", "money"),
            FieldValue("currency", "Currency", "EUR"),
            FieldValue("due_date", "Due date", "2025-07-04", "date"),
            FieldValue("state", "State", "pending", "enum"),
        ),
    )
    text = summarize(record)
    assert "- Amount: €48,250.50" in text
    assert "- Due date: Jul 4, 2025" in text
    assert "- State: Pending" in text


def test_a_record_without_activity_says_so() -> None:
    assert summarize(EMPTY_RECORD) == "**Deal: Blank deal**\n\nNo activity recorded yet."


def test_a_long_history_is_summarized_from_its_recent_entries() -> None:
    start = datetime(2020, 1, 1, 9, tzinfo=UTC)
    old = "The CFO signed the $900,000 contract and agreed to escalate the budget by March 3."
    recent = "Customer asked for the updated quote of $12,000 before Friday."
    timeline = [TimelineEntry(start, "Ann", "email", old)] + [
        TimelineEntry(start + timedelta(days=day), "Bo", "note", f"{recent} Ref {day}.")
        for day in range(1, 300)
    ]
    record = RecordContext(
        ref=RecordRef(type="deal", id="D-7"), title="Long", version="1", timeline=tuple(timeline)
    )
    text = summarize(record)
    assert "$900,000" not in text
    assert "updated quote of $12,000" in text
