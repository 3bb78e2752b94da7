"""The OpenAPI schema against the running server, with schemathesis: generated requests (valid
and invalid by the schema) to every endpoint; no server error, every response conforms to what
the schema says (status codes, content types, bodies), and invalid requests are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ServerThread, make_settings, token_for

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 30
"""Per operation and mode: a few hundred requests in all."""


def test_the_schema_and_the_server_agree(tmp_path: Path) -> None:
    token = token_for("globex", roles=("manager",))
    with ServerThread(make_settings(tmp_path)) as server:
        finished = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{server.url}/schema/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "8",
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    assert finished.returncode == 0, finished.stdout[-6000:] + finished.stderr[-2000:]
