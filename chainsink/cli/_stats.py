"""``chainsink stats``: traces, runs, errors, latency by name, tokens and cost by model, slowest
traces.

Cost is worked out here, as the records are read (:mod:`chainsink.cost`): each model call is
priced from its own model, usage, provider and time, and summed per model and per trace.
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chainsink.cli._common import (
    EXIT_NO_INPUT,
    EXIT_OK,
    Subparsers,
    add_files,
    check_files,
    say,
)

if TYPE_CHECKING:
    from chainsink.cost import Prices
    from chainsink.report import LogSummary

_NAME_WIDTH = 40
#: Traces whose cost is followed for the slowest-traces list; past this many traces with
#: model calls, later ones are listed without a cost (memory stays bounded).
MAX_TRACE_COSTS = 200_000
_C1 = re.compile("[\x7f-\x9f]")


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``stats`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "stats", help="summarise JSONL logs: traces, errors, latency, tokens",
        description="Summarise JSONL logs: traces, runs and errors; latency p50/p95/max by run "
                    "name; tokens by model and in total; the slowest traces. Percentiles are "
                    "exact up to 1,024 runs of a name, estimated from a uniform sample beyond.")
    add_files(p)
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="how many slowest traces to list (default 10)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument("--prices", metavar="FILE",
                   help="your own prices (TOML or JSON, USD per million tokens per model), "
                        "tried before the genai-prices table; default: $CHAINSINK_PRICES")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.top < 0:
        parser.error("--top must not be negative")
    check_files(parser, args)
    from chainsink.cost import load_prices

    try:
        args.user_prices = load_prices(args.prices)
    except ValueError as exc:
        parser.error(f"prices: {exc}")


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink stats``; return the exit code."""
    # the reading stack is imported here, not at the top: `chainsink --help` does not pay for it
    import orjson

    from chainsink.cli._inputs import KIND_PROBLEMS, LineReport, Progress, open_inputs, records
    from chainsink.formatters import inert
    from chainsink.report import LogSummary

    inputs = open_inputs(args.files)
    summary = LogSummary(max_traces=0, slowest=args.top)
    costs = CostSummary(getattr(args, "user_prices", None))
    sizes = [i.size for i in inputs]
    progress = Progress("chainsink stats", None if None in sizes else sum(s or 0 for s in sizes))
    usable, done = [], 0
    try:
        for inp in inputs:
            if inp.kind != "jsonl":
                say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                continue
            report = LineReport(inp.name)
            for rec in records(inp, report, progress, done):
                summary.add(rec)
                if rec.get("event") == "llm_end":
                    costs.add(rec, summary)
            done += inp.size or 0
            if report.done():
                usable.append(inp.name)
    finally:
        progress.close()
        for inp in inputs:
            inp.close()
    if not usable:
        return EXIT_NO_INPUT
    summary.finish()
    if costs.hint:
        say(f"cost: {costs.hint}")
    if args.json:
        data = summary.to_dict()
        costs.fill(data, summary)
        data["files"] = usable
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
        # orjson escapes C0 controls; DEL and C1 (a lone CSI, OSC, ST) are escaped here, so
        # JSON on a terminal cannot control it either
        sys.stdout.write(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
    else:
        # names, models and files are log content: shown as text, never terminal control
        sys.stdout.write(inert(render(summary, usable, costs)))
    sys.stdout.flush()
    return EXIT_OK


def _cut(name: str, width: int = _NAME_WIDTH) -> str:
    name = name.replace("\n", " ")
    return name if len(name) <= width else name[: width - 1] + "\u2026"


class CostSummary:
    """The cost of the model calls of a log, per model and per trace, priced call by call.

    A model is *unpriced* when neither the user's prices nor the price table know it (or,
    without the ``chainsink[cost]`` extra, when the user's prices do not): its cost is None,
    and so is every sum it is part of.

    Args:
        prices: The user's prices, tried before the table.
    """

    def __init__(self, prices: Prices | None = None) -> None:
        from chainsink.cost import cost_available

        self.prices = prices
        self.table = cost_available()
        #: Whether anything can be priced at all (the table, or the user's prices).
        self.shown = self.table or prices is not None
        self.by_model: dict[str, Decimal | None] = {}
        self.by_trace: dict[str, Decimal | None] = {}
        self.calls = 0

    @property
    def hint(self) -> str | None:
        """The one line to print when the table is missing and there were calls to price."""
        from chainsink.cost import INSTALL_HINT

        return None if self.table or not self.calls else f"{INSTALL_HINT} to see what calls cost"

    def add(self, rec: dict[str, Any], summary: LogSummary) -> None:
        """Price one ``llm_end`` record (already added to ``summary``, whose model keys this
        follows)."""
        from chainsink._schema import parse_time
        from chainsink.cost import CostUnavailableError, decimal_cost
        from chainsink.report import OTHER_MODELS, UNKNOWN_MODEL, trace_key

        self.calls += 1
        model = rec.get("model")
        model = model if isinstance(model, str) and model else None
        key = model or UNKNOWN_MODEL
        if key not in summary.tokens_by_model:  # pooled with the models past MAX_MODELS
            key = OTHER_MODELS
        usage = rec.get("usage")
        metadata = rec.get("metadata")
        provider = metadata.get("ls_provider") if isinstance(metadata, dict) else None
        cost: Decimal | None
        try:
            cost = decimal_cost(model, usage if isinstance(usage, dict) else None,
                                provider=provider if isinstance(provider, str) else None,
                                when=parse_time(rec.get("ts")), prices=self.prices)
        except CostUnavailableError:
            cost = None
        except Exception:  # noqa: BLE001 - odd log content is unpriced, never a traceback
            cost = None
        _add(self.by_model, key, cost)
        trace = trace_key(rec)
        if trace in self.by_trace or len(self.by_trace) < MAX_TRACE_COSTS:
            _add(self.by_trace, trace, cost)

    def unpriced(self) -> list[str]:
        """The models with no known price, sorted."""
        return sorted(m for m, c in self.by_model.items() if c is None)

    def total(self) -> Decimal | None:
        """What every call cost; None if any model is unpriced."""
        total = Decimal(0)
        for cost in self.by_model.values():
            if cost is None:
                return None
            total += cost
        return total

    def priced(self) -> Decimal:
        """What the calls of the priced models cost."""
        return sum((c for c in self.by_model.values() if c is not None), Decimal(0))

    def table_version(self) -> str | None:
        """The price table's version, or None without the extra."""
        from chainsink.cost import price_table_version

        return price_table_version() if self.table else None

    def fill(self, data: dict[str, Any], summary: LogSummary) -> None:
        """Add the costs to ``summary.to_dict()``'s ``data`` (what ``stats --json`` prints):
        ``cost`` per model and per slowest trace (null: unknown), and a ``cost`` block."""
        for model, tokens in data.get("tokens_by_model", {}).items():
            tokens["cost"] = _float(self.by_model.get(model))
        for trace in data.get("slowest_traces", ()):
            trace["cost"] = self.trace_cost(trace["trace_id"], trace["tokens"]["calls"])
        total = self.total()
        data["cost"] = {
            "currency": "USD",
            "total": _float(total),
            "priced": _float(self.priced()),
            "unpriced_models": self.unpriced(),
            "price_table": self.table_version(),
            "user_prices": self.prices is not None,
            "note": self.hint,
        }

    def trace_cost(self, trace_id: str, calls: int) -> float | None:
        """A trace's cost (0 without model calls); None if unknown or not followed."""
        if not calls:
            return 0.0
        return _float(self.by_trace.get(trace_id))


def _add(costs: dict[str, Decimal | None], key: str, cost: Decimal | None) -> None:
    if key not in costs:
        costs[key] = cost
    else:
        before = costs[key]
        costs[key] = None if before is None or cost is None else before + cost


def _float(cost: Decimal | None) -> float | None:
    return None if cost is None else float(cost)


def usd(cost: Decimal | float | None) -> str:
    """A cost as text: ``$1,234.50``, ``$0.000420`` (six places below a dollar), or
    ``unknown``."""
    if cost is None:
        return "unknown"
    return f"${cost:,.2f}" if cost >= 1 else f"${cost:.6f}"


def render(s: LogSummary, files: list[str], costs: CostSummary | None = None) -> str:
    """The stats as text for a terminal."""
    from chainsink.report import format_ms, short_id

    out = [f"{', '.join(files)}: {s.records:,} records"]
    if s.first_ts:
        out.append(f"from {s.first_ts} to {s.last_ts}")
    extra = [f"{s.failed_traces:,} failed"]
    if s.interrupted_traces:
        extra.append(f"{s.interrupted_traces:,} interrupted")
    if s.incomplete_traces:
        extra.append(f"{s.incomplete_traces:,} incomplete")
    out += ["",
            f"traces  {s.traces:>10,}   ({', '.join(extra)})",
            f"runs    {s.runs:>10,}",
            f"errors  {s.errors:>10,}   (runs that failed)",
            *([f"stopped {s.interrupted:>10,}   (runs interrupted, cancelled or handed off:"
               " not failures)"] if s.interrupted else []),
            ""]
    rows = s.latency_rows()
    width = max([len("latency by run name")] + [len(_cut(n)) for n, _ in rows])
    out.append(f"{'latency by run name':<{width}}  {'runs':>8}  {'errors':>6}  {'p50':>10}"
               f"  {'p95':>10}  {'max':>10}")
    for name, lat in rows:
        out.append(f"{_cut(name):<{width}}  {lat.count:>8,}  {lat.errors:>6,}"
                   f"  {format_ms(lat.percentile(50)):>10}  {format_ms(lat.percentile(95)):>10}"
                   f"  {format_ms(lat.max if lat.count else None):>10}")
    out.append("")
    models = sorted(s.tokens_by_model.items(), key=lambda kv: (-kv[1].total_tokens, kv[0]))
    width = max([len("tokens by model")] + [len(_cut(m)) for m, _ in models])
    priced = costs is not None and costs.shown
    out.append(f"{'tokens by model':<{width}}  {'calls':>8}  {'input':>12}  {'output':>12}"
               f"  {'total':>12}" + (f"  {'cost':>12}" if priced else ""))
    for model, tok in [*models, ("total", s.tokens)]:
        line = (f"{_cut(model):<{width}}  {tok.calls:>8,}  {tok.input_tokens:>12,}"
                f"  {tok.output_tokens:>12,}  {tok.total_tokens:>12,}")
        if costs is not None and priced:
            cost = costs.total() if model == "total" else costs.by_model.get(model)
            shown = usd(cost) if cost is not None or model == "total" else "unpriced"
            line += f"  {shown:>12}"
        out.append(line)
    if costs is not None and priced:
        where = [costs.table_version() or "", "your prices" if costs.prices else ""]
        out.append(f"prices: {' and '.join(w for w in where if w)} (USD)")
        unpriced = costs.unpriced()
        if unpriced:
            out.append(f"unpriced models: {', '.join(_cut(m) for m in unpriced)} (no known "
                       f"price, or calls that reported no usage; the others cost "
                       f"{usd(costs.priced())})")
    slowest = s.slowest()
    if slowest:
        out += ["", "slowest traces"]
        for t in slowest:
            spent = ""
            if costs is not None and priced and t.tokens.calls:
                spent = usd(costs.trace_cost(t.trace_id, t.tokens.calls))
                spent = ", cost unknown" if spent == "unknown" else f", {spent}"
            out.append(f"  {format_ms(t.duration_ms):>10}  {short_id(t.trace_id)}  "
                       f"{_cut(t.name)}  ({t.runs:,} runs, {t.status}{spent}, started {t.start})")
    return "\n".join(out) + "\n"
