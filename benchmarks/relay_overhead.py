"""What users feel of Margin's relay: the latency it adds, the CPU it spends, the load it takes.

Three processes on 127.0.0.1, driven by this script:

* the upstream: ``margin.testing.simulator``, an OpenAI-compatible streaming API;
* Margin: ``margin serve`` (the venv's console script) with a generated production config:
  response cache, rate limits, interaction log and JSON logging at ``info`` as shipped; one
  provider, ``sim`` (marked ``local``, so sensitive records may go to it), as the whole chain;
  the demo CRM served through the ``sql`` adapter from a SQLite file in a temporary folder;
* the load generator: this script again (``--loadgen``), raw asyncio HTTP/1.1 with keep-alive
  to Margin, a new connection per request to the upstream (it closes each one, and Margin's
  provider pays the same), and a minimal chunked/SSE scanner. It reports its own CPU per
  request, so a reader can see it is not the bottleneck.

For each feature (summarize, draft, query) and each concurrency (1, 16, 64) the same number
of requests go straight to the upstream (``POST /v1/chat/completions``, replaying the body
Margin sent it) and through Margin. The upstream answers like a fast hosted model: first token
after 10 ms, then 20 tokens, one every 10 ms. Each of the C clients sends its next request as
soon as an answer ends; they start at random points within one answer's time, as independent
users would (``--lockstep`` starts them all at once, the worst case). Printed per run: TTFT
(request sent to first content: the first ``delta`` event through Margin, the first content
chunk upstream; for query, whose answer is a JSON plan Margin runs before it can show
anything, the first ``result`` or ``delta`` event, compared with the upstream's *total*),
total time (to the end of the stream), p50 and p99, what Margin adds, and Margin's CPU per
request (utime + stime of its process tree from /proc). Then saturation: concurrency 64 for a
fixed time with the upstream flat out, 20- and 200-token answers, requests/s and tokens/s
through Margin and straight to the upstream.

No request through Margin is served from another's answer (cache or single flight): summarize
bypasses the cache (``feature_ttl_s.summarize = 0``) and rotates over copies of the demo deal
D-1001 (the script adds 512 or more to the demo database), so no two requests in flight are
alike; draft and query keep the cache on and carry a numbered instruction or question, so each
misses. Each run checks this: the upstream must have seen one call per request.

    .venv/bin/python benchmarks/relay_overhead.py                # 2 to 3 minutes
    .venv/bin/python benchmarks/relay_overhead.py --quick        # smoke run, under 30 s
    .venv/bin/python benchmarks/relay_overhead.py --features summarize --concurrency 16,64 \\
        --requests 400 --duration 8

The machine's other load skews every figure (the load average is printed before and after);
the three processes share its cores, so saturation is that of the whole loopback setup.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
SECRET = "relay-overhead-benchmark-secret-0123456789"
TENANT = "bench"
FEATURES = ("summarize", "draft", "query")
CONCURRENCIES = (1, 16, 64)
DEFAULT_REQUESTS = {1: 50, 16: 200, 64: 640}
QUICK_REQUESTS = {1: 3, 16: 16, 64: 64}
LATENCY_TTFT_MS = 10.0
LATENCY_TOKENS = 20
LATENCY_TOKENS_PER_S = 100.0  # one token every 10 ms
ANSWER_SIZES = (20, 200)
MIN_COPIES = 512
"""Copies of deal D-1001 that summarize requests rotate over: at least this many, and at least 8
times the highest concurrency, so no two requests in flight ask for the same record."""
WARMUP_REQUESTS = 20
REQUEST_TIMEOUT_S = 30.0
START_TIMEOUT_S = 30.0
CLONE_PREFIX = "D-B"
# A valid query plan (QueryPlan as strict structured output returns it), 20 tokens as the
# simulator splits text (each whitespace-separated word is a token). Bob's deals: an indexed
# column, and none of the copies of D-1001 (alice's) among them.
QUERY_PLAN = (
    '{"spec": {"record_type": "deal", "filters": [{"field": "owner", "op": "=", "value": '
    '"bob"}], "sort": [], "limit": 20, "group_by": null, "aggregate": null}, '
    '"unanswerable": null}'
)
TARGET_CPU_MS = 3.0
TARGET_ADDED_TTFT_P99_MS = {16: 5.0, 64: 40.0}
TARGET_SATURATION_RPS = 400.0


@dataclass(frozen=True)
class Feature:
    name: str
    body: str
    """JSON request body; ``{n}`` becomes the request's number, so every request differs."""
    markers: tuple[str, ...]
    """SSE event lines whose first arrival is the time to first content."""
    pooled: bool = False
    """``{n}`` is taken modulo the number of copies of the demo deal."""


FEATURE_SPECS = {
    "summarize": Feature(
        "summarize", '{"record":{"type":"deal","id":"' + CLONE_PREFIX + '{n}"}}', ("event: delta",), True
    ),
    "draft": Feature(
        "draft",
        '{"record":{"type":"deal","id":"D-1001"},"kind":"follow_up_email",'
        '"instruction":"Keep it short and mention item {n} of the order form."}',
        ("event: delta",),
    ),
    "query": Feature(
        "query",
        '{"question":"Which deals does bob own? (request {n})"}',
        ("event: result", "event: delta"),
    ),
}


# --------------------------------------------------------------------------------------------
# Load generator (``--loadgen``): JSON jobs in on stdin, one JSON result line out per job.
# --------------------------------------------------------------------------------------------


class _Failed(Exception):
    """A response that is not a complete, successful stream."""


@dataclass
class _Response:
    ttft_s: float | None
    total_s: float
    counted: int
    cached: bool
    close: bool


async def _read_chunked(
    reader: asyncio.StreamReader, started: float, markers: tuple[bytes, ...], count: bytes
) -> tuple[bytes, float | None, int]:
    """The de-chunked body, when a marker first arrived (seconds since ``started``), and how
    many times ``count`` occurs. SSE frames never straddle chunks (Margin and the simulator
    write whole frames per chunk), so each chunk is scanned on its own."""
    buf = bytearray()
    parts: list[bytes] = []
    ttft: float | None = None
    counted = 0
    while True:
        data = await reader.read(65536)
        if not data:
            raise _Failed("connection closed mid-stream")
        now = time.perf_counter()
        buf += data
        pos = 0
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            end = eol + 2 + size
            if len(buf) < end + 2:
                break
            if size == 0:
                return b"".join(parts), ttft, counted
            payload = bytes(buf[eol + 2 : end])
            pos = end + 2
            if ttft is None and any(marker in payload for marker in markers):
                ttft = now - started
            counted += payload.count(count)
            parts.append(payload)
        if pos:
            del buf[:pos]


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: bytes,
    markers: tuple[bytes, ...],
    count: bytes,
    end_mark: bytes,
    started: float,
) -> _Response:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    status = int(head[9:12])
    close = b"\r\nconnection: close" in lower
    if b"\r\ntransfer-encoding: chunked" in lower:
        body, ttft, counted = await _read_chunked(reader, started, markers, count)
    else:
        at = lower.find(b"\r\ncontent-length:")
        length = int(lower[at + 17 : lower.index(b"\r\n", at + 2)]) if at >= 0 else 0
        body, ttft, counted = await reader.readexactly(length), None, 0
    total = time.perf_counter() - started
    if status != 200:
        raise _Failed(f"HTTP {status}: {body[:300]!r}")
    if b"event: error" in body:
        at = body.find(b"event: error")
        raise _Failed(f"error event: {body[at : at + 300]!r}")
    if end_mark not in body:
        raise _Failed(f"stream ended without {end_mark!r}: {body[-300:]!r}")
    return _Response(ttft, total, counted, b'"cached":true' in body, close)


async def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    port = int(job["port"])
    keepalive = bool(job["keepalive"])
    head = str(job["head"]).encode()
    template = str(job["body"]).encode()
    first, modulo = int(job["first"]), int(job["modulo"])
    requests, duration = int(job["requests"]), float(job["duration"])
    concurrency = int(job["concurrency"])
    rng = random.Random(int(job["seed"]))
    offsets = [rng.uniform(0, float(job["stagger_s"])) for _ in range(concurrency)]
    markers = tuple(str(m).encode() for m in job["markers"])
    count, end_mark = str(job["count"]).encode(), str(job["end"]).encode()

    ttfts: list[float] = []
    totals: list[float] = []
    errors: list[str] = []
    next_n, counted, cached, connected, in_window = first, 0, 0, 0, 0
    all_connected, go = asyncio.Event(), asyncio.Event()
    deadline = window_start = math.inf

    def take() -> int | None:
        nonlocal next_n
        n = next_n
        if (requests and n - first >= requests) or time.perf_counter() >= deadline:
            return None
        next_n = n + 1
        return n

    async def worker(offset: float) -> None:
        nonlocal counted, cached, connected, in_window
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            if keepalive:  # connect before the clock starts
                conn = await asyncio.open_connection(HOST, port)
        finally:
            connected += 1
            if connected == concurrency:
                all_connected.set()
        await go.wait()
        if offset:  # independent users: their requests do not all arrive at the same moment
            await asyncio.sleep(offset)
        try:
            while (n := take()) is not None:
                body = template.replace(b"{n}", b"%d" % (n % modulo if modulo else n))
                request = head + b"content-length: %d\r\n\r\n%s" % (len(body), body)
                started = time.perf_counter()  # a new connection (to the upstream) counts
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT_S):
                        if conn is None:
                            conn = await asyncio.open_connection(HOST, port)
                        response = await _exchange(*conn, request, markers, count, end_mark, started)
                except (
                    OSError,
                    EOFError,
                    asyncio.LimitOverrunError,
                    ValueError,
                    TimeoutError,
                    _Failed,
                ) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    if conn is not None:
                        conn[1].close()
                        conn = None
                    continue
                if response.ttft_s is not None:
                    ttfts.append(response.ttft_s * 1000)
                totals.append(response.total_s * 1000)
                if window_start < time.perf_counter() <= deadline:
                    in_window += 1
                counted += response.counted
                cached += response.cached
                if conn is not None and (response.close or not keepalive):
                    conn[1].close()
                    conn = None
        finally:
            if conn is not None:
                conn[1].close()

    tasks = [asyncio.create_task(worker(offset)) for offset in offsets]
    async with asyncio.timeout(REQUEST_TIMEOUT_S):
        await all_connected.wait()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if duration:  # throughput counts what completes in the run's steady part, after a ramp-up
        deadline = wall0 + duration
        window_start = wall0 + min(1.0, duration / 4)
    go.set()
    rounds = math.ceil(requests / concurrency) if requests else 0
    async with asyncio.timeout(duration + REQUEST_TIMEOUT_S * (rounds + 1)):
        results = await asyncio.gather(*tasks, return_exceptions=True)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    errors += [f"worker: {type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    return {
        "issued": next_n - first,
        "ok": len(totals),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "ttft_ms": ttfts,
        "total_ms": totals,
        "counted": counted,
        "cached": cached,
        "wall_s": wall,
        "window_s": deadline - window_start if duration else 0.0,
        "in_window": in_window,
        "cpu_s": cpu,
    }


def loadgen_main() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        result = asyncio.run(_run_job(json.loads(line)))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# Upstream simulator (``--simulator PORT``): quiet logging, so its CPU stays small.
# --------------------------------------------------------------------------------------------


def simulator_main(port: int) -> int:
    import logging

    import structlog

    from margin.testing.simulator import Scenario, run_simulator

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    run_simulator(HOST, port, Scenario())
    return 0


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Children get SIGTERM if this script dies without cleaning up (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """The processes this script started; :meth:`stop` ends them all, whatever happened."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        cmd: Sequence[str],
        *,
        log: Path | None = None,
        pipes: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        out: IO[bytes] | int = log.open("wb") if log is not None else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(
                list(cmd),
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out,
                stderr=out if not pipes else None,
                env=env,
                preexec_fn=_die_with_parent,  # this script runs no threads
            )
        finally:
            if not isinstance(out, int):
                out.close()
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def _http(method: str, url: str, body: bytes | None = None, timeout: float = 30.0) -> bytes:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    with _opener.open(request, timeout=timeout) as response:
        return bytes(response.read())


def _log_tail(path: Path, lines: int = 12, width: int = 600) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return "\n".join(line if len(line) <= width else line[:width] + " ..." for line in tail)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], name: str, log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            tail = _log_tail(log) if log is not None else ""
            raise SystemExit(f"{name} exited with status {proc.returncode} before it was ready\n{tail}")
        try:
            _http("GET", url, timeout=1.0)
            return
        except OSError:
            if time.monotonic() > deadline:
                tail = _log_tail(log) if log is not None else ""
                raise SystemExit(
                    f"{name} did not answer {url} within {START_TIMEOUT_S:.0f} s\n{tail}"
                ) from None
            time.sleep(0.1)


def _cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` and its descendants (worker processes), in seconds."""
    ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def make_crm(data_dir: Path, copies: int) -> Path:
    """The demo CRM, plus ``copies`` copies of deal D-1001 (with its timeline) as D-B0, D-B1, ..."""
    from margin.demo import demo_crm_path, ensure_demo_crm

    ensure_demo_crm(str(data_dir))
    path = demo_crm_path(str(data_dir))
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("CREATE TEMP TABLE copy_numbers (n INTEGER)")
            db.executemany("INSERT INTO copy_numbers VALUES (?)", ((n,) for n in range(copies)))
            new_id = f"'{CLONE_PREFIX}' || copy_numbers.n"
            tables = (("deals", "id", None), ("activities", None, "deal_id"), ("emails", None, "deal_id"))
            for table, id_column, deal_column in tables:
                columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
                values = [
                    new_id if c in (id_column, deal_column) else "NULL" if c == "id" else f"{table}.{c}"
                    for c in columns
                ]
                where = f"{table}.{deal_column or id_column} = 'D-1001'"
                db.execute(
                    f"INSERT INTO {table} SELECT {', '.join(values)} FROM {table}, copy_numbers WHERE {where}"
                )
    finally:
        db.close()
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no TOML for {value!r}")


def _toml(config: dict[str, Any]) -> str:
    """Top-level scalars, then one ``[table]`` per top-level dict with inline values."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for key, table in config.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]", *(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def write_config(path: Path, data_dir: Path, crm: Path, margin_port: int, sim_port: int) -> None:
    import msgspec

    from margin.demo.crm_config import demo_crm_config

    crm_section = {"kind": "sql", **msgspec.to_builtins(demo_crm_config(crm))}
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "server": {"host": HOST, "port": margin_port},
        "providers": {
            "sim": {
                "kind": "openai_compatible",
                "model": "sim-model",
                "base_url": f"http://{HOST}:{sim_port}/v1",
                "api_key": "sim-key",
                "local": True,
            }
        },
        "chains": {"default": ["sim"]},  # as written: no offline fallback to hide failures
        "tenants": {TENANT: {"secret": SECRET, "allowed_origins": ["*"], "adapters": ["crm"]}},
        "adapters": {"crm": crm_section},
        "resilience": {
            # The default allows 30 requests a minute per user; the benchmark is one user.
            "limits": {"per_user": {"requests_per_minute": 100_000_000}},
            # Summarize bypasses the cache (the copies of D-1001 repeat); draft and query keep it,
            # and miss: each of their requests is distinct.
            "cache": {"feature_ttl_s": {"summarize": 0}},
        },
    }
    text = _toml(config)
    tomllib.loads(text)  # fail here, clearly, if the writer above produced bad TOML
    path.write_text(text)


@dataclass
class Run:
    path: str
    concurrency: int
    issued: int
    ok: int
    errors: int
    first_error: str | None
    ttft_ms: list[float]
    total_ms: list[float]
    wall_s: float
    window_s: float
    in_window: int
    loadgen_cpu_s: float
    counted: int
    cached: int
    margin_cpu_s: float | None = None
    upstream_calls: int | None = None

    def pct(self, which: str, q: float) -> float:
        values = sorted(self.ttft_ms if which == "ttft" else self.total_ms)
        if not values:
            return math.nan
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    @property
    def margin_cpu_ms(self) -> float:
        return 1000 * self.margin_cpu_s / self.ok if self.margin_cpu_s is not None and self.ok else math.nan

    @property
    def loadgen_cpu_ms(self) -> float:
        return 1000 * self.loadgen_cpu_s / self.issued if self.issued else math.nan

    @property
    def rps(self) -> float:
        """Completed requests per second: over the steady window of a timed run, else the whole run."""
        if self.window_s:
            return self.in_window / self.window_s
        return self.ok / self.wall_s if self.wall_s else math.nan

    def problems(self) -> list[str]:
        out = []
        if self.errors:
            out.append(f"{self.errors} failed ({self.first_error})")
        if self.cached:
            out.append(f"{self.cached} served from the cache")
        if self.upstream_calls is not None and self.upstream_calls != self.issued:
            out.append(f"{self.upstream_calls} upstream calls for {self.issued} requests")
        return out


class Bench:
    def __init__(
        self,
        loadgen: subprocess.Popen[bytes],
        margin: subprocess.Popen[bytes],
        margin_port: int,
        sim_port: int,
        token: str,
        pool: int,
    ) -> None:
        self.loadgen = loadgen
        self.margin = margin
        self.margin_port = margin_port
        self.sim_url = f"http://{HOST}:{sim_port}"
        self.sim_port = sim_port
        self.token = token
        self.pool = pool
        self.next_n = {name: 0 for name in FEATURES}
        self.upstream_body: dict[str, str] = {}
        self.current: dict[str, Any] = {}

    def scenario(self, **fields: Any) -> None:
        """The simulator's answers from now on; it also forgets the requests it recorded."""
        self.current = fields
        self.restart_count()

    def restart_count(self) -> None:
        # reset also restores the simulator's initial default, so the scenario is set again
        _http("POST", self.sim_url + "/_sim/reset", b"")
        _http("PUT", self.sim_url + "/_sim/default", json.dumps(self.current).encode())

    def sim_requests(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = json.loads(_http("GET", self.sim_url + "/_sim/requests"))
        return requests

    def _job(self, job: dict[str, Any]) -> dict[str, Any]:
        assert self.loadgen.stdin is not None and self.loadgen.stdout is not None
        self.loadgen.stdin.write(json.dumps(job).encode() + b"\n")
        self.loadgen.stdin.flush()
        line = self.loadgen.stdout.readline()
        if not line:
            raise SystemExit(f"the load generator exited (status {self.loadgen.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def through_margin(
        self,
        feature: Feature,
        concurrency: int,
        requests: int = 0,
        duration: float = 0.0,
        stagger: float = 0.0,
    ) -> Run:
        head = (
            f"POST /v1/{feature.name} HTTP/1.1\r\nhost: {HOST}:{self.margin_port}\r\n"
            f"authorization: Bearer {self.token}\r\naccept: text/event-stream\r\n"
            "content-type: application/json\r\n"
        )
        first = self.next_n[feature.name]
        job = {
            "port": self.margin_port,
            "keepalive": True,
            "head": head,
            "body": feature.body,
            "first": first,
            "modulo": self.pool if feature.pooled else 0,
            "requests": requests,
            "duration": duration,
            "concurrency": concurrency,
            "stagger_s": stagger,
            "seed": concurrency,
            "markers": list(feature.markers),
            "count": "event: delta",
            "end": "event: done",
        }
        self.restart_count()
        cpu0 = _cpu_s(self.margin.pid)
        result = self._job(job)
        cpu = _cpu_s(self.margin.pid) - cpu0
        self.next_n[feature.name] = first + int(result["issued"])
        calls = len(self.sim_requests())
        return self._run("margin", concurrency, result, margin_cpu_s=cpu, upstream_calls=calls)

    def straight(
        self,
        feature: Feature,
        concurrency: int,
        requests: int = 0,
        duration: float = 0.0,
        stagger: float = 0.0,
    ) -> Run:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}:{self.sim_port}\r\n"
            "authorization: Bearer sim-key\r\ncontent-type: application/json\r\naccept: application/json\r\n"
        )
        content = '"delta":{"content":'
        job = {
            "port": self.sim_port,
            "keepalive": False,
            "head": head,
            "body": self.upstream_body[feature.name],
            "first": 0,
            "modulo": 0,
            "requests": requests,
            "duration": duration,
            "concurrency": concurrency,
            "stagger_s": stagger,
            "seed": concurrency,
            "markers": [content],
            "count": content,
            "end": "data: [DONE]",
        }
        return self._run("upstream", concurrency, self._job(job))

    @staticmethod
    def _run(path: str, concurrency: int, result: dict[str, Any], **extra: Any) -> Run:
        return Run(
            path=path,
            concurrency=concurrency,
            issued=int(result["issued"]),
            ok=int(result["ok"]),
            errors=int(result["errors"]),
            first_error=result["first_error"],
            ttft_ms=[float(v) for v in result["ttft_ms"]],
            total_ms=[float(v) for v in result["total_ms"]],
            wall_s=float(result["wall_s"]),
            window_s=float(result["window_s"]),
            in_window=int(result["in_window"]),
            loadgen_cpu_s=float(result["cpu_s"]),
            counted=int(result["counted"]),
            cached=int(result["cached"]),
            **extra,
        )

    def capture_upstream_body(self, feature: Feature) -> None:
        """The body of the last call Margin made upstream, to replay straight to it."""
        requests = self.sim_requests()
        if not requests:
            raise SystemExit(f"{feature.name}: Margin made no upstream call")
        body = dict(requests[-1]["body"])
        self.upstream_body[feature.name] = json.dumps(body, separators=(",", ":"))


def _latency_scenario(feature: Feature) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "ttft_ms": LATENCY_TTFT_MS,
        "tokens_per_s": LATENCY_TOKENS_PER_S,
        "total_tokens": LATENCY_TOKENS,
    }
    if feature.name == "query":
        scenario["text"] = QUERY_PLAN
    return scenario


def _pair(a: float, b: float, signed: bool = False) -> str:
    fmt = "{:+7.1f}" if signed else "{:7.1f}"
    return (fmt.format(a) + " /" + fmt.format(b)).replace("nan", "  -")


def _print_latency(feature: Feature, rows: list[tuple[Run, Run]]) -> None:
    against = "upstream total" if feature.name == "query" else "upstream TTFT"
    print(
        f"\n{feature.name}: TTFT and total in ms, p50 / p99; added = margin - upstream "
        f"(added TTFT vs {against}); CPU in ms per request"
    )
    print(
        f"{'conc':>5} {'reqs':>5} | {'TTFT upstream':>16} {'TTFT margin':>16} {'added':>16} | "
        f"{'total upstream':>16} {'total margin':>16} {'added':>16} | "
        f"{'margin CPU':>10} {'loadgen CPU':>11}"
    )
    for up, via in rows:
        ref = "total" if feature.name == "query" else "ttft"
        added_ttft = (via.pct("ttft", 0.5) - up.pct(ref, 0.5), via.pct("ttft", 0.99) - up.pct(ref, 0.99))
        added_total = (
            via.pct("total", 0.5) - up.pct("total", 0.5),
            via.pct("total", 0.99) - up.pct("total", 0.99),
        )
        print(
            f"{via.concurrency:>5} {via.ok:>5} | "
            f"{_pair(up.pct('ttft', 0.5), up.pct('ttft', 0.99))} "
            f"{_pair(via.pct('ttft', 0.5), via.pct('ttft', 0.99))} {_pair(*added_ttft, signed=True)} | "
            f"{_pair(up.pct('total', 0.5), up.pct('total', 0.99))} "
            f"{_pair(via.pct('total', 0.5), via.pct('total', 0.99))} {_pair(*added_total, signed=True)} | "
            f"{via.margin_cpu_ms:>10.2f} {via.loadgen_cpu_ms:>11.2f}"
        )
        for run in (up, via):
            for problem in run.problems():
                print(f"      ! {run.path}, concurrency {run.concurrency}: {problem}")


def _print_saturation(
    feature: Feature, rows: list[tuple[int, Run, Run]], concurrency: int, duration: float
) -> None:
    print(
        f"\n{feature.name} saturation: concurrency {concurrency} for {duration:g} s per run, upstream flat "
        f"out (TTFT 0, no pacing); req/s counts what completes after the first {min(1.0, duration / 4):g} s"
    )
    print(
        f"{'answer':>10} {'path':>9} {'req/s':>8} {'tokens/s':>10} {'reqs':>6} "
        f"{'total p50/p99 ms':>16} {'margin CPU':>10} {'loadgen CPU':>11}"
    )
    for tokens, up, via in rows:
        for run in (up, via):
            label = f"{tokens} tokens" if run is up else ""
            cpu = f"{run.margin_cpu_ms:>10.2f}" if run.margin_cpu_s is not None else f"{'':>10}"
            print(
                f"{label:>10} {run.path:>9} {run.rps:>8.0f} {run.rps * tokens:>10.0f} {run.ok:>6} "
                f"{_pair(run.pct('total', 0.5), run.pct('total', 0.99))} {cpu} {run.loadgen_cpu_ms:>11.2f}"
            )
            for problem in run.problems():
                print(f"      ! {run.path}: {problem}")


def _verdict(value: float, ok: Callable[[float], bool]) -> str:
    if math.isnan(value):
        return "not measured"
    return "met" if ok(value) else "NOT met"


def _num(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def _summary(
    latency: dict[str, list[tuple[Run, Run]]], saturation: dict[str, list[tuple[int, Run, Run]]]
) -> None:
    if "summarize" not in latency:
        print("\nTargets: not checked; they are about summarize, which this run left out.")
        return
    rows = latency["summarize"]
    # CPU per request: the busiest latency run (the most requests, paced tokens); a lightly
    # loaded server pays more per request (every token is a wake-up of its own), listed after.
    busiest = max((via for _, via in rows), key=lambda run: run.concurrency, default=None)
    cpu_ms = busiest.margin_cpu_ms if busiest is not None else math.nan
    others = ", ".join(
        f"{via.margin_cpu_ms:.2f} at {via.concurrency}" for _, via in rows if via is not busiest
    )
    where = f" at concurrency {busiest.concurrency}" if busiest is not None else ""
    parts = [
        f"Margin CPU per 20-token summarize request {_num(cpu_ms, '.2f')} ms{where}"
        f"{f' ({others})' if others else ''} (target <= {TARGET_CPU_MS:g}: "
        f"{_verdict(cpu_ms, lambda v: v <= TARGET_CPU_MS)})"
    ]
    for concurrency, target in TARGET_ADDED_TTFT_P99_MS.items():
        pair = next(((up, via) for up, via in rows if via.concurrency == concurrency), None)
        added = pair[1].pct("ttft", 0.99) - pair[0].pct("ttft", 0.99) if pair else math.nan
        parts.append(
            f"added TTFT p99 at concurrency {concurrency} {_num(added, '.1f')} ms (target <= {target:g}: "
            f"{_verdict(added, target.__ge__)})"
        )
    sat = next((via for tokens, _, via in saturation.get("summarize", []) if tokens == 20), None)
    rps = sat.rps if sat is not None else math.nan
    parts.append(
        f"saturation with 20-token answers {_num(rps, '.0f')} requests/s "
        f"(target >= {TARGET_SATURATION_RPS:g}: {_verdict(rps, lambda v: v >= TARGET_SATURATION_RPS)})"
    )
    print("\nTargets (summarize, this run): " + "; ".join(parts) + ".")


def _loadgen_summary(
    latency: dict[str, list[tuple[Run, Run]]], saturation: dict[str, list[tuple[int, Run, Run]]]
) -> None:
    via = [run for rows in latency.values() for _, run in rows]
    via += [run for rows in saturation.values() for _, _, run in rows]
    up = [run for rows in latency.values() for run, _ in rows]
    up += [run for rows in saturation.values() for _, run, _ in rows]
    if not via:
        return

    def share(runs: list[Run]) -> float:
        return max(100 * run.loadgen_cpu_s / run.wall_s if run.wall_s else 0.0 for run in runs)

    per_request = 1000 * sum(r.loadgen_cpu_s for r in via) / max(1, sum(r.issued for r in via))
    print(
        f"Load generator: {per_request:.2f} ms CPU per request through Margin over all runs, at most "
        f"{share(via):.0f}% of one core in a run through Margin ({share(up):.0f}% straight to the upstream, "
        "a new connection per request)."
    )


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _csv_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", default=",".join(FEATURES), help="comma-separated (default: all)")
    parser.add_argument("--concurrency", default=",".join(map(str, CONCURRENCIES)), help="comma-separated")
    parser.add_argument(
        "--requests", type=int, help="requests per latency run (default: 50, 200, 640 at 1, 16, 64; else 10x)"
    )
    parser.add_argument("--duration", type=float, help="seconds per saturation run (default 4)")
    parser.add_argument("--saturation-concurrency", type=int, default=64)
    parser.add_argument("--no-saturation", action="store_true", help="skip the saturation runs")
    parser.add_argument("--quick", action="store_true", help="smoke run: few requests, short saturation")
    parser.add_argument(
        "--lockstep",
        action="store_true",
        help="latency runs: start every client at once (worst case) instead of at random points "
        "within one answer's time",
    )
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--simulator", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.feature_list = [f.strip() for f in args.features.split(",") if f.strip()]
    unknown = [f for f in args.feature_list if f not in FEATURES]
    if unknown:
        parser.error(f"unknown feature(s) {', '.join(unknown)}; choose from {', '.join(FEATURES)}")
    args.concurrency_list = _csv_ints(args.concurrency)
    if not args.concurrency_list or min(args.concurrency_list) < 1 or max(args.concurrency_list) > 1024:
        parser.error("--concurrency: positive integers up to 1024")
    if args.duration is None:
        args.duration = 0.5 if args.quick else 4.0
    if not 0 < args.duration <= 120:
        parser.error("--duration: more than 0, at most 120 seconds")
    if args.requests is not None and not 1 <= args.requests <= 100_000:
        parser.error("--requests: 1 to 100000")
    if not 1 <= args.saturation_concurrency <= 1024:
        parser.error("--saturation-concurrency: 1 to 1024")
    return args


def _requests_for(args: argparse.Namespace, concurrency: int) -> int:
    table = QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS
    default = table.get(concurrency, 10 * concurrency)
    return max(args.requests if args.requests is not None else default, concurrency)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.loadgen:
        return loadgen_main()
    if args.simulator is not None:
        return simulator_main(args.simulator)

    from margin.auth import mint_token

    margin_bin = Path(sys.executable).parent / "margin"
    if not margin_bin.exists():
        raise SystemExit(f"no margin console script next to {sys.executable}; install the project first")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    pool = max(MIN_COPIES, 8 * max([*args.concurrency_list, args.saturation_concurrency]))
    features, concurrencies = ", ".join(args.feature_list), ", ".join(map(str, args.concurrency_list))
    print(f"relay_overhead: {_load()}; features {features}; concurrency {concurrencies}", flush=True)
    if args.quick:
        print("--quick: a smoke run; too few requests and too short runs for figures to trust", flush=True)

    children = Children()
    with tempfile.TemporaryDirectory(prefix="margin-relay-") as tmp:
        work = Path(tmp)
        sim_log, margin_log = work / "simulator.log", work / "margin.log"
        try:
            crm = make_crm(work, pool)
            sim_port, margin_port = _free_port(), _free_port()
            config = work / "margin.toml"
            write_config(config, work, crm, margin_port, sim_port)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MARGIN_")}
            for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
                env.pop(key, None)
            env["NO_PROXY"] = env["no_proxy"] = f"{HOST},localhost"
            script = str(Path(__file__).resolve())
            sim = children.start([sys.executable, script, "--simulator", str(sim_port)], log=sim_log, env=env)
            margin = children.start(
                [str(margin_bin), "serve", "--config", str(config)], log=margin_log, env=env
            )
            loadgen = children.start([sys.executable, script, "--loadgen"], pipes=True, env=env)
            _wait_ready(f"http://{HOST}:{sim_port}/_sim/requests", sim, "the simulator", sim_log)
            _wait_ready(f"http://{HOST}:{margin_port}/healthz", margin, "margin serve", margin_log)
            token = mint_token(SECRET, tenant=TENANT, user_id="bench-user", roles=["manager"], ttl_s=3600)
            bench = Bench(loadgen, margin, margin_port, sim_port, token, pool)
            latency, saturation = _measure(bench, args)
        except (Exception, SystemExit) as exc:
            if not (isinstance(exc, SystemExit) and isinstance(exc.code, int)):  # not an exit on a signal
                print(f"\n--- margin serve log (last lines) ---\n{_log_tail(margin_log)}", file=sys.stderr)
            raise
        finally:
            children.stop()
    _summary(latency, saturation)
    _loadgen_summary(latency, saturation)
    print(f"Ran {time.monotonic() - started:.0f} s; {_load()}.")
    failed = any(run.problems() for rows in latency.values() for pair in rows for run in pair) or any(
        run.problems() for rows in saturation.values() for _, *pair in rows for run in pair
    )
    return 1 if failed else 0


def _measure(
    bench: Bench, args: argparse.Namespace
) -> tuple[dict[str, list[tuple[Run, Run]]], dict[str, list[tuple[int, Run, Run]]]]:
    latency: dict[str, list[tuple[Run, Run]]] = {}
    saturation: dict[str, list[tuple[int, Run, Run]]] = {}
    answer_s = (LATENCY_TTFT_MS + 1000 * LATENCY_TOKENS / LATENCY_TOKENS_PER_S) / 1000
    stagger = 0.0 if args.lockstep else answer_s
    arrivals = (
        "all clients start at once (--lockstep)"
        if args.lockstep
        else f"each client starts at a random point within the first {1000 * answer_s:g} ms, then "
        "sends its next request as soon as an answer ends"
    )
    print(
        f"Upstream for the latency runs: first token after {LATENCY_TTFT_MS:g} ms, then {LATENCY_TOKENS} "
        f"tokens one every {1000 / LATENCY_TOKENS_PER_S:g} ms (query: a {len(QUERY_PLAN.split())}-token "
        f"JSON plan); {arrivals}",
        flush=True,
    )
    for name in args.feature_list:
        feature = FEATURE_SPECS[name]
        bench.scenario(**_latency_scenario(feature))
        warm = bench.through_margin(feature, 4, WARMUP_REQUESTS)
        if warm.errors or not warm.ok:
            raise SystemExit(f"{name}: warm-up through Margin failed: {warm.first_error}")
        bench.capture_upstream_body(feature)
        rows: list[tuple[Run, Run]] = []
        for concurrency in args.concurrency_list:
            n = _requests_for(args, concurrency)
            up = bench.straight(feature, concurrency, n, stagger=stagger)
            via = bench.through_margin(feature, concurrency, n, stagger=stagger)
            rows.append((up, via))
        latency[name] = rows
        _print_latency(feature, rows)
        if args.no_saturation:
            continue
        sat_rows: list[tuple[int, Run, Run]] = []
        for tokens in ANSWER_SIZES:
            if feature.name == "query" and tokens != LATENCY_TOKENS:
                continue  # a query's answer is a short JSON plan; there is no 200-token one
            flat: dict[str, Any] = {"ttft_ms": 0.0, "tokens_per_s": 0.0, "total_tokens": tokens}
            if feature.name == "query":
                flat["text"] = QUERY_PLAN
            bench.scenario(**flat)
            up = bench.straight(feature, args.saturation_concurrency, duration=args.duration)
            via = bench.through_margin(feature, args.saturation_concurrency, duration=args.duration)
            sat_rows.append((tokens, up, via))
        saturation[name] = sat_rows
        _print_saturation(feature, sat_rows, args.saturation_concurrency, args.duration)
        sys.stdout.flush()
    return latency, saturation


if __name__ == "__main__":
    sys.exit(main())
