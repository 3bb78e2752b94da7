"""The README's promise, as a user runs it: ``margin demo``, ``margin token``, a streamed summary."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from helpers import events_of

MARGIN = [sys.executable, "-m", "margin"]


def clean_env() -> dict[str, str]:
    """The user's environment without Margin settings or provider keys: embedded defaults only."""
    drop = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    return {k: v for k, v in os.environ.items() if not k.startswith("MARGIN_") and k not in drop}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    command = [*MARGIN, "demo", "--port", str(port)]
    with subprocess.Popen(
        command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"margin demo did not start: {process.communicate()[0]}") from None
                    time.sleep(0.1)
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_demo_token_and_streamed_summaries(demo: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    url, _ = demo
    token = subprocess.run(
        [*MARGIN, "token", "--tenant", "demo", "--user", "alice"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    for record, facts in ((("deal", "D-1001"), ("84,000", "Acme")), (("case", "C-2001"), ("Globex", "Open"))):
        body = {"record": {"type": record[0], "id": record[1]}}
        response = httpx.post(f"{url}/v1/summarize", json=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        events = events_of(response.text)
        assert events[0].event == "meta" and events[0].data["provider"] == "offline"
        assert [e.event for e in events].count("delta") > 5 and events[-1].event == "done"
        text = "".join(e.data["text"] for e in events if e.event == "delta")
        assert all(fact in text for fact in facts), text


def test_demo_prints_its_url_and_logs_readably(demo: tuple[str, subprocess.Popen[str]]) -> None:
    url, process = demo
    process.terminate()
    output = process.communicate(timeout=15)[0]
    assert f"{url}/" in output
    assert "margin token --tenant demo --user alice" in output
    assert "accepts widget calls from any page origin" in output  # the demo tenant allows "*"
