"""The secret check's first look in one Hyperscan pass answers exactly as its ``re`` passes do.

``KeyRules.first_look(blob, own)`` (one pass over the bytes as they are) must equal
``KeyRules.anchored(blob.lower()[own:])`` (eight ``re`` passes over the lowercased bytes) on every
blob: where it said "nothing" and ``re`` would not, the Redactor would let a secret through.
Checked on the serialized events of real runs, on hand-made edges of every literal and rule,
and on generated JSON; from threads at once and in a forked child; and the Redactor's verdicts
under both engines.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsink._jsonable import dumps
from chainsink.processors import Redactor
from chainsink.processors._onepass import engine
from chainsink.processors._secrets import ANCHOR_LITERALS, COUNT_NAMES, key_rules

try:
    import hyperscan  # noqa: F401 - the extra "scan" (in dev)
except ImportError:
    if os.environ.get("CHAINSINK_STRICT") == "1":  # CI: the dev extra must have brought it
        raise
    pytest.skip("hyperscan is not installed (pip install 'chainsink[scan]')",
                allow_module_level=True)

USER_KEYS = ("ssn", "a.b*c", "ключ", "암호")
RULES = [key_rules(tuple(Redactor().keys)), key_rules(tuple(Redactor(keys=USER_KEYS).keys)),
         key_rules(("ssn", "pin"))]  # no "token", no CJK key: the anchors' literals still count


def same(blob: bytes) -> None:
    own = len(b'{"token":') if blob.startswith(b'{"token":') else 0
    for rules in RULES:
        low = blob.lower()
        expected = rules.anchored(low[own:] if own else low)
        assert rules.first_look(blob, own) is expected, (blob[:200], rules.keys)


def test_the_engine_is_hyperscan_here() -> None:
    assert engine().startswith("hyperscan"), engine()
    assert all(rules._one_pass is not None for rules in RULES)


FILLER = "Passage 3: the charlie report says revenue grew in the charlie region. " * 6
EDGES = [
    *(f"{FILLER} {literal.decode()} end" for literal in ANCHOR_LITERALS),
    *(f"{FILLER} {literal.decode().upper()} end" for literal in ANCHOR_LITERALS),
    f"{FILLER} SSN: 078-05-1120", f"{FILLER} A.B*C=1", f"{FILLER} КЛЮЧ=x", f"{FILLER} 암호는 x",
    f"{FILLER} 密码是hunter2", f"{FILLER} パスワード", f"{FILLER} tok en", f"{FILLER} toke",
    f"{FILLER} TOKEN", f"{FILLER} refresh_tokens", f"{FILLER} \\u5bc6\\u7801",
    f"{FILLER} C:\\users\\u0041", f"{FILLER} gh_p", f"{FILLER} a:/b", f"{FILLER} ey j",
]


@pytest.mark.parametrize("text", EDGES)
def test_edges_in_strings_and_keys(text: str) -> None:
    same(dumps({"text": text}))
    same(dumps({text[-12:]: FILLER}))
    same(json.dumps({"text": text}).encode())  # ensure_ascii: \\uXXXX escapes
    same(b'{"token":' + orjson.dumps(text) + b"}")  # a token record's own key


@pytest.mark.parametrize("name", COUNT_NAMES)
@pytest.mark.parametrize("value", [5, -1, None, {"audio": 1}, "5", "hunter2", [1], True])
def test_token_counts_and_what_is_not_one(name: str, value: Any) -> None:
    same(dumps({"usage": {name: value}, "text": FILLER}))
    same(dumps({"usage": {name.upper(): value}, "text": FILLER}))
    same(json.dumps({"usage": {name: value}, "text": FILLER}, indent=1).encode())


def test_the_events_of_real_runs() -> None:
    import workloads  # tests/workloads.py: the chains the suite runs

    from chainsink import CallbackHandler
    from chainsink.formatters import JsonlFormatter

    lines: list[str] = []
    handler = CallbackHandler(lines.append, JsonlFormatter(), processors=())
    for name in (*workloads.SYNC_WORKLOADS, *workloads.ASYNC_WORKLOADS):
        with contextlib.suppress(Exception):  # error_chain fails on purpose
            workloads.run_workload(name, [handler])
    assert len(lines) > 200
    for line in lines:
        data = {k: v for k, v in orjson.loads(line).items() if k not in ("v", "ts")}
        same(dumps(data))


KEYISH = st.sampled_from([*(w.decode() for w in ANCHOR_LITERALS), "token", "tokens",
                          "input_tokens", "TOTAL_TOKENS", "密码", "ключ", "ssn", "\\u5bc6",
                          "Bearer ", "://", "sk-", "_", "ghp", ":", '"', "\\"])
TEXT = st.lists(st.one_of(KEYISH, st.text(max_size=12)), max_size=12).map("".join)
JSONISH = st.recursive(
    st.one_of(st.none(), st.integers(), st.booleans(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(JSONISH, st.booleans())
def test_generated_json(value: Any, ascii_only: bool) -> None:
    padded = {"pad": FILLER, "value": value}
    same(json.dumps(padded).encode() if ascii_only else dumps(padded))


def test_threads_at_once_each_get_the_right_answer() -> None:
    rules = RULES[0]
    clean = dumps({"text": FILLER * 4})
    dirty = dumps({"text": FILLER * 4 + " password"})
    wrong: list[Any] = []

    def scan() -> None:
        for _ in range(2000):
            if rules.first_look(clean) is not False or rules.first_look(dirty) is not True:
                wrong.append(threading.get_ident())

    threads = [threading.Thread(target=scan) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_scans() -> None:
    rules = RULES[0]
    rules.first_look(dumps({"text": FILLER}))  # the parent's thread has its scratch space
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            answer = (rules.first_look(dumps({"text": FILLER})),
                      rules.first_look(dumps({"text": FILLER + " sk-"})))
            os.write(write, repr(answer).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100)
    os.waitpid(pid, 0)
    assert answer == b"(False, True)"


VERDICTS = """
import json, sys
from chainsink.processors import Redactor
from chainsink.processors._onepass import engine
from chainsink._jsonable import dumps
r = Redactor(keys=["ssn"])
blobs = [dumps({"text": t}) for t in json.loads(sys.stdin.read())]
print(json.dumps([engine(), [r._has_secret(b) for b in blobs]]))
"""


def test_the_redactor_decides_alike_under_both_engines() -> None:
    texts = [f"{FILLER} {edge}" for edge in [
        "sk-proj-abcdefghijklmnopqrstuvwxyz", "password: hunter2", "password", "ssn=1",
        "Bearer abcdefghijklmnop", "密码是hunter2", "nothing at all", "token=abc123",
        "https://user:pw@example.com/", "AKIAABCDEFGHIJKLMNOP", "input_tokens"]]
    results = {}
    for scan in ("hyperscan", "re"):
        env = {**os.environ, "CHAINSINK_SCAN": scan}
        out = subprocess.run([sys.executable, "-c", VERDICTS], input=json.dumps(texts),
                             capture_output=True, text=True, env=env, check=True)
        results[scan] = json.loads(out.stdout)
    assert results["hyperscan"][0].startswith("hyperscan")
    assert results["re"][0] == "re"
    assert results["hyperscan"][1] == results["re"][1]
    assert results["re"][1] == [True, True, False, True, True, True, False, True, True, True,
                                False]
