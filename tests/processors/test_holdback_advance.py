"""HoldBack.advance (the token shortcut's step) against take + keep + swap (the full path).

The shortcut must leave a run's held text and pending record exactly as the full path would,
return the record value the full path lets go, and change nothing when it declines.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chainsink import FileCallbackHandler
from chainsink._schema import Event
from chainsink.cli._workloads import ScriptedChatModel
from chainsink.processors import Redactor
from chainsink.processors._holdback import _MAX_STEPS, MAX_HELD, NOTHING, HoldBack
from chainsink.processors._secrets import DEFAULT_KEYS

KEYS = [k.lower() for k in DEFAULT_KEYS]
_PIECES = st.sampled_from(["The ", "quick", " fox", ", ", "password", "=", "hun", "ter2",
                           "\"", ": ", "sk-", "abcdefgh", "ijklmnop", "qrst", "密码", "是",
                           "。", "\n", "Bearer ", "a", " ", "'", "api_key", "{"])


def _full(hold: HoldBack, run: int, token: str) -> tuple[Any, bool]:
    """The full path's bookkeeping for a token whose decided text needs no mask: what it
    lets go, and whether the held text ran over."""
    emit, held, over = hold.take(run, token, ())
    hold.keep(run, held, over)
    return hold.swap(run, emit), over


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=40))
def test_advance_leaves_what_take_keep_swap_leave(tokens: list[str]) -> None:
    fast, slow = HoldBack(KEYS), HoldBack(KEYS)
    for token in tokens:
        before = (dict(fast.runs), dict(fast.pending))
        got = fast.advance(7, token, (), lambda text: False)
        if got is None:  # declined: nothing changed, and the full path is taken
            assert (fast.runs, fast.pending) == before
            got_full, _ = _full(fast, 7, token)
            got = False if got_full is NOTHING else got_full
        want, over = _full(slow, 7, token)
        assert got == (False if want is NOTHING else want)
        assert not over
        assert fast.runs == slow.runs and fast.pending == slow.pending


def test_advance_declines_where_the_text_is_secret_and_changes_nothing() -> None:
    hold = HoldBack(KEYS)
    assert hold.advance(1, "hello ", (), lambda text: False) is False
    runs, pending = dict(hold.runs), dict(hold.pending)
    assert hold.advance(1, "world ", (), lambda text: "world" in text) is None
    assert (hold.runs, hold.pending) == (runs, pending)
    assert hold.advance(1, "again ", (), lambda text: False) == "hello "


def test_advance_declines_an_over_long_word_and_a_pending_content_block() -> None:
    hold = HoldBack(KEYS)
    assert hold.advance(1, "x" * (MAX_HELD + 1), (), lambda text: False) is None
    assert hold.runs == {} and hold.pending == {}
    hold.pending[2] = [{"type": "text", "text": "a"}]
    assert hold.advance(2, "b ", (), lambda text: False) is None
    hold.swallowing.add(3)
    assert hold.advance(3, "c ", (), lambda text: False) is None


def test_a_redactor_streams_the_same_records_through_its_step_and_its_full_path() -> None:
    """Through Redactor.token_rule's step (advance) and Redactor.__call__ (take/keep/swap),
    the same tokens give the same record texts."""
    def event(run: uuid.UUID, kind: str, data: dict[str, Any]) -> Event:
        return Event(kind, time.time(), run, None, run, 0, "model", "llm", [], {}, data)

    tokens = ["My ", "pass", "word", "=hun", "ter2 ", "and ", "sk-", "abcdefghij",
              "klmnopqrstu ", "done."]
    texts = []
    for shortcut in (True, False):
        red = Redactor()
        run = uuid.uuid4()
        start = event(run, "llm_start", {"prompts": ["hi"]})
        red(start)
        step = red.token_rule(event(run, "llm_new_token", {})).step if shortcut else None
        out = []
        for token in tokens:
            got = step(token) if step is not None else None
            if got is None:
                record = red(event(run, "llm_new_token", {"token": token}))
                if record is not None:
                    out.append(record.data["token"])
            elif got is not False:
                out.append(got)
        ended = red(event(run, "llm_end", {"outputs": {}}))
        if isinstance(ended, tuple):
            out.append(ended[0].data["token"])
        texts.append("".join(out))
    assert texts[0] == texts[1]
    assert "hunter2" not in texts[0] and "sk-abcdefghij" not in texts[0]


def test_a_chain_of_key_names_costs_a_bounded_number_of_steps_per_token() -> None:
    """``password: password: ...`` streamed a character at a time: each token steps back over
    at most _MAX_STEPS pending key names (it stepped back over every one held: about 1 ms per
    token at 2,000 held characters), and the value is still decided together with its key."""
    hold = HoldBack(KEYS)
    calls = [0]
    back = hold._back

    def counted(*args: Any) -> int:
        calls[0] += 1
        return back(*args)

    hold._back = counted  # type: ignore[method-assign]
    most = 0
    decided = []
    for ch in "password: " * 300 + "password: hunter2pass\n":
        calls[0] = 0
        emit, held, over = hold.take(1, ch, ())
        hold.keep(1, held, over)
        decided.append(emit)
        most = max(most, calls[0])
    assert most <= _MAX_STEPS + 1 <= 10  # not one step per key name held (300 here)
    # the value is decided whole with its key (the masking then sees the pair)
    pieces = [emit for emit in decided if "hunt" in emit or "pass\n" in emit]
    assert pieces and all("password: hunter2pass" in emit for emit in pieces)


def test_a_chain_of_key_names_streamed_through_a_handler_keeps_its_value_masked(
        tmp_path: Path) -> None:
    text = "config:\n" + "password: " * 200 + "password: hunter2pass\nbye"
    path = tmp_path / "run.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        model = ScriptedChatModel(messages=iter([text]), chunk_chars=1)
        list(model.stream("hi", config={"callbacks": [handler]}))
    out = path.read_text(encoding="utf-8")
    records = [json.loads(line) for line in out.splitlines()]
    tokens = [r for r in records if r["event"] == "llm_new_token"]
    assert len(tokens) == len(text)  # one record per token
    assert "hunter2pass" not in out
    assert "".join(r["token"] for r in tokens).endswith("bye")
