"""The CLI on broken logs: random bytes, truncations and corruptions of real logs.

``tail``, ``stats`` and ``html`` must answer each with a defined exit code (0: something was
read, 1: nothing usable), a bounded number of ``chainsink:`` lines on stderr and never a
traceback, and must use every record the input still holds. Hypothesis drives the CLI in this
process (``chainsink.cli.main``, fast); a corpus of corruptions then runs it as a real process.
tests/cli/test_bad_input.py covers the named cases (missing file, directory, empty, binary,
capped warnings); this adds random damage and odd-typed records.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import html.parser
import itertools
import json
import os
import random
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chaos
import orjson
import pytest
import workloads
from cli._support import run_main
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from chainsink import EVENT_KINDS, FileCallbackHandler
from chainsink.cli import EXIT_NO_INPUT, EXIT_OK

GROUP = "cli fuzz"
#: stderr lines a command may print for one input: 10 bad lines, a "more skipped" count, an
#: unrenderable-records count, html's "wrote" note, and one more note of its own.
MAX_STDERR_LINES = 14
MARKER = "chaos1337"
MARKUP = (f"<script>alert('{MARKER}')</script>", f'<img src=x onerror="{MARKER}()">',
          f"</script><script>{MARKER}()</script>", f"javascript:{MARKER}()",
          f'"><svg onload="{MARKER}()">')


def hostile_run(handlers: list[Any]) -> None:
    """A chain with markup in its run name, tags, metadata, model output and error."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=" ".join(MARKUP))]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    chain.invoke({"q": MARKUP[0]}, config={"callbacks": handlers, "run_name": MARKUP[1],
                                           "tags": [MARKUP[2]], "metadata": {MARKUP[3]: 1}})

    def explode(_: Any) -> Any:
        raise ValueError(MARKUP[4] + "\ud800\x1b[2J")

    with contextlib.suppress(ValueError):
        RunnableLambda(explode, name=MARKUP[0]).invoke("x", config={"callbacks": handlers})


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real JSONL and ANSI logs of every kind of workload, with markup in them."""
    base = tmp_path_factory.mktemp("real")
    handlers = [FileCallbackHandler(base / "run.jsonl", format="jsonl"),
                FileCallbackHandler(base / "run.ansi", format="ansi", style="detailed")]
    for name in ("lcel_invoke", "error_chain", "retriever_chain", "agent_executor",
                 "create_agent", "lcel_stream"):
        workloads.run_workload(name, handlers)
    import asyncio

    asyncio.run(workloads.astream_lcel_concurrent(handlers, n=5))
    hostile_run(handlers)
    for h in handlers:
        h.close()
    return {"jsonl": (base / "run.jsonl").read_bytes(), "ansi": (base / "run.ansi").read_bytes()}


# -- what a log should yield ------------------------------------------------------------------


def usable_records(data: bytes) -> int:
    """How many lines of ``data`` are chainsink records (what any reader must still use)."""
    n = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:  # a byte order mark before a record is an encoding mark (read_events skips it)
            rec = orjson.loads(line.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("event"), str) and "run_id" in rec:
            n += 1
    return n


def check_stderr(err: str, where: str) -> list[str]:
    """stderr holds only a few chainsink lines: no traceback, no crash caught as internal."""
    assert "Traceback" not in err, f"{where}: {err}"
    lines = err.splitlines()
    assert all(line.startswith("chainsink: ") for line in lines), f"{where}: {err}"
    assert len(lines) <= MAX_STDERR_LINES, f"{where}: {len(lines)} stderr lines"
    assert "internal error" not in err, f"{where}: {err}"
    return lines


class Scripts(html.parser.HTMLParser):
    """Collects what a page could execute: script elements, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.executable: list[str] = []
        self.data_blocks: list[str] = []
        self.handlers: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}={value}")
            if name in ("href", "src", "action", "formaction") and value and \
                    value.strip().lower().startswith("javascript:"):
                self.handlers.append(f"{tag} {name}={value}")
        if tag == "script":
            kind = dict(attrs).get("type") or "text/javascript"
            self._in = "data" if kind == "application/json" else "code"
            (self.data_blocks if self._in == "data" else self.executable).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "data":
            self.data_blocks[-1] += data
        elif self._in == "code":
            self.executable[-1] += data


def check_page(page: str) -> None:
    """Nothing from a log can run: page scripts hold no log text, no handler, JSON intact."""
    found = Scripts()
    found.feed(page)
    assert found.handlers == [], found.handlers
    for code in found.executable:
        assert MARKER not in code, "log text inside an executable <script>"
    for block in found.data_blocks:
        json.loads(block)  # a data block the log could not break out of


# -- hypothesis: random damage to real logs, in this process -----------------------------------

INSERTS = [b"\x00", b"\x00" * 4096, b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\n", b"\r",
           b"\x1b[2J", b"{", b"}", b'"', b"\\", b"[", b"\n\n\n", b"\t", b"null\n", b"[]\n",
           b'{"event": 5}\n', b'{"event": "chain_start"}\n', b"\xef\xbb\xbf"]

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False,
                                                                 allow_infinity=False),
              st.text(max_size=20), st.sampled_from(list(MARKUP))),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c,
                                                                  max_size=3)),
    max_leaves=8)

odd_records = st.fixed_dictionaries(
    {"event": st.one_of(st.sampled_from(EVENT_KINDS), st.text(max_size=10)),
     "run_id": st.one_of(st.uuids().map(str), json_values)},
    optional={**{k: json_values for k in (
        "v", "ts", "parent_run_id", "trace_id", "depth", "name", "run_type", "tags", "metadata",
        "inputs", "outputs", "duration_ms", "usage", "usage_by_model", "model", "error",
        "prompts", "token", "tool", "log", "data", "event_name", "interrupted", "aborted",
        "display")},
        # non-list "messages" has its own test (test_html_survives_a_record_with_non_list_messages)
        "messages": st.lists(st.one_of(st.lists(json_values, max_size=3), json_values),
                             max_size=3)})
"""Records with the right keys and any JSON in them (wrong types, markup, nesting)."""


#: The real logs by name, for strategies (so hypothesis reprs a name, not 200 kB of bytes).
BASES: dict[str, bytes] = {}


@st.composite
def damaged(draw: st.DrawFn, base: str) -> bytes:
    """``BASES[base]`` with one to four kinds of damage."""
    data = bytearray(BASES[base])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate",
                                   "shuffle", "odd record", "binary", "bom"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(INSERTS))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 5000))]
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 3000))]
        elif op == "shuffle":
            lines = bytes(data).split(b"\n")
            draw(st.randoms()).shuffle(lines)
            data = bytearray(b"\n".join(lines))
        elif op == "odd record":
            line = orjson.dumps(draw(odd_records), option=orjson.OPT_NON_STR_KEYS) + b"\n"
            nl = data.find(b"\n", at)
            data[nl + 1:nl + 1] = line
        elif op == "binary":
            data[at:at] = draw(st.binary(min_size=1, max_size=2000))
        elif op == "bom":
            data[0:0] = b"\xef\xbb\xbf"
    return bytes(data)


def test_damaged_logs_in_process(real_logs: dict[str, bytes], tmp_path: Path) -> None:
    """Damaged real logs: exit 0 iff a record survives, all survivors counted, pages run nothing."""
    BASES.update(real_logs)

    @chaos.examples(200)
    @given(data=damaged("jsonl"))
    def run(data: bytes) -> None:
        log = tmp_path / "damaged.jsonl"
        log.write_bytes(data)
        expected = usable_records(data)
        want = EXIT_OK if expected else EXIT_NO_INPUT
        code, out, err = run_main(["stats", "--json", str(log)])
        check_stderr(err, "stats")
        assert code == want, (code, expected, err)
        if code == EXIT_OK:
            assert json.loads(out)["records"] == expected
        code, out, err = run_main(["tail", "--no-color", str(log)])
        check_stderr(err, "tail")
        assert code in (EXIT_OK, EXIT_NO_INPUT)
        page = tmp_path / "damaged.html"
        page.unlink(missing_ok=True)
        code, _, err = run_main(["html", str(log), "-o", str(page)])
        check_stderr(err, "html")
        assert code in (EXIT_OK, EXIT_NO_INPUT)
        if code == EXIT_OK:
            check_page(page.read_text(encoding="utf-8"))
        chaos.count(GROUP, inputs=3, records=expected)

    run()


def test_random_bytes_in_process(tmp_path: Path) -> None:
    """Pure random bytes, text and JSON that is not a log: exit 1 or 0, never a crash."""

    @chaos.examples(150)
    @given(data=st.one_of(st.binary(max_size=5000), st.text(max_size=2000).map(str.encode),
                          st.lists(json_values, max_size=20).map(
                              lambda vs: b"\n".join(orjson.dumps(v) for v in vs)),
                          st.lists(odd_records, min_size=1, max_size=20).map(
                              lambda rs: b"\n".join(orjson.dumps(r) for r in rs) + b"\n")))
    def run(data: bytes) -> None:
        log = tmp_path / "random.jsonl"
        log.write_bytes(data)
        for argv in (["stats", str(log)], ["tail", str(log)],
                     ["html", str(log), "-o", str(tmp_path / "r.html")]):
            code, _, err = run_main(argv)
            check_stderr(err, argv[0])
            assert code in (EXIT_OK, EXIT_NO_INPUT), (argv, code, err)
        chaos.count(GROUP, inputs=3, records=usable_records(data))

    run()


@pytest.mark.parametrize("command", ["tail", "stats"])
def test_records_after_a_text_preamble_are_used(command: str, real_logs: dict[str, bytes],
                                               tmp_path: Path) -> None:
    """A log that starts with 25 lines of plain text, then records: the records are used."""
    log = tmp_path / "preamble.jsonl"
    text = b"".join(b"INFO starting worker %d\n" % i for i in range(25))
    log.write_bytes(text + real_logs["jsonl"])
    code, _, err = run_main([command, str(log)])
    chaos.count(GROUP, inputs=1, records=usable_records(real_logs["jsonl"]))
    check_stderr(err, command)
    assert code == EXIT_OK, err


@pytest.mark.parametrize("messages", [1, True, 2.5])
def test_html_survives_a_record_with_non_list_messages(messages: Any, real_logs: dict[str, bytes],
                                                       tmp_path: Path) -> None:
    """One chat_model_start whose messages is not a list: the page is still written."""
    log = tmp_path / "odd.jsonl"
    odd = {"event": "chat_model_start", "run_id": str(uuid.uuid4()), "messages": messages}
    log.write_bytes(real_logs["jsonl"] + orjson.dumps(odd) + b"\n")
    code, _, err = run_main(["html", str(log), "-o", str(tmp_path / "odd.html")])
    chaos.count(GROUP, inputs=1, records=usable_records(real_logs["jsonl"]) + 1)
    assert code == EXIT_OK, err
    check_stderr(err, "html")


# -- a corpus of corruptions, through the real command ------------------------------------------


def corpus(real: dict[str, bytes]) -> dict[str, bytes]:
    """Named corruptions of the real logs (seeded: the same every run)."""
    rng = random.Random(20261121)
    log, ansi = real["jsonl"], real["ansi"]
    flipped = bytearray(log)
    for _ in range(200):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    nul_block = log[: len(log) // 3] + b"\x00" * 8192 + log[len(log) // 3:]
    lines = log.split(b"\n")
    return {
        "200 flipped bytes": bytes(flipped),
        "cut mid-record": log[: len(log) // 2 + 7],
        "cut mid-UTF-8 character": log[: log.index(b"\xe2") + 1] if b"\xe2" in log else log[:-3],
        "a 4 kB block of NULs": nul_block,
        "invalid UTF-8 in strings": log.replace(b"Parrots", b"Parr\xff\xfets"),
        "random binary": random.Random(7).randbytes(200_000),
        "a 5 MB garbage line": log[:5000] + b"x" * (5 * 1024 * 1024) + b"\n" + log[5000:],
        "interleaved halves": b"\n".join(a[: len(a) // 2] + b[len(b) // 2:]
                                         for a, b in itertools.pairwise(lines)),
        "CRLF line ends": log.replace(b"\n", b"\r\n"),
        "ansi log with markup": ansi,
        "ansi log cut mid-escape": ansi[: ansi.index(b"\x1b[") + 2] if b"\x1b[" in ansi else ansi,
        "jsonl and ansi concatenated": log + ansi,
    }


def run_cli(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = chaos.python_env()
    env.pop("CHAINSINK_DEBUG", None)
    return subprocess.run([chaos.PY, "-m", "chainsink", *argv], cwd=cwd, capture_output=True,
                          env=env, timeout=180, check=False)


def test_corruption_corpus_through_the_real_command(real_logs: dict[str, bytes],
                                                   tmp_path: Path) -> None:
    """Each corruption, as real processes: exit 0 or 1, short stderr, no traceback, safe pages."""
    cases = corpus(real_logs)
    jobs: dict[tuple[str, str], Callable[[], subprocess.CompletedProcess[bytes]]] = {}
    for name, data in cases.items():
        path = tmp_path / f"{uuid.uuid4().hex}.jsonl"
        path.write_bytes(data)
        for command in ("tail", "stats", "html"):
            argv = [command, str(path)] + (["-o", f"{path}.html"] if command == "html" else [])
            jobs[name, command] = lambda argv=argv: run_cli(argv, tmp_path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = {key: pool.submit(job) for key, job in jobs.items()}
    for (name, command), future in results.items():
        proc = future.result()
        err = proc.stderr.decode("utf-8", "replace")
        where = f"{command} <{name}>"
        assert proc.returncode in (EXIT_OK, EXIT_NO_INPUT), (where, proc.returncode, err)
        check_stderr(err, where)
        data = cases[name]
        if usable_records(data) and command != "html":
            assert proc.returncode == EXIT_OK, (where, err)
        chaos.count(GROUP, inputs=1, records=usable_records(data))
    for page in tmp_path.glob("*.html"):
        check_page(page.read_text(encoding="utf-8"))


def test_html_of_a_clean_log_escapes_every_markup(real_logs: dict[str, bytes],
                                                 tmp_path: Path) -> None:
    """A report of a log full of markup: no handler, no log text in scripts, markup as data."""
    log = tmp_path / "markup.jsonl"
    log.write_bytes(real_logs["jsonl"])
    page = tmp_path / "markup.html"
    code, _, err = run_main(["html", str(log), "-o", str(page)])
    assert code == EXIT_OK, err
    text = page.read_text(encoding="utf-8")
    check_page(text)
    found = Scripts()
    found.feed(text)
    assert any(MARKER in block for block in found.data_blocks)  # shown, as data
    chaos.count(GROUP, inputs=1, records=usable_records(real_logs["jsonl"]))
