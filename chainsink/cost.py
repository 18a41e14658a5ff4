"""What model calls cost in US dollars, worked out when usage is read, not when it is logged.

Logs keep what a model reported (its name and token ``usage``); a price is applied when it is
read (``chainsink stats``, :func:`chainsink.usage`), so old logs are priced with today's table
and a corrected price corrects every report. Prices come from two places, in this order:

1. The user's own prices (:class:`Prices`), for private or fine-tuned models, or to override
   the table: a TOML or JSON file, or a mapping, of USD per million tokens per model::

       # prices.toml
       ["acme-private-1"]
       input_mtok = 0.50        # USD per million input tokens (required)
       output_mtok = 1.50       # USD per million output tokens, reasoning included (required)
       cache_read_mtok = 0.05   # cache hits (optional, default: input_mtok)
       cache_write_mtok = 0.60  # tokens written to the cache (optional, default: input_mtok)

       ["acme-*"]               # a name with * or ? is a pattern, tried after exact names
       input_mtok = 1
       output_mtok = 2

   A model name matches case-insensitively. ``CHAINSINK_PRICES=path`` names such a file
   for every reader that is not given prices.
2. `genai-prices <https://github.com/pydantic/genai-prices>`_, an offline price table
   maintained upstream (the ``chainsink[cost]`` extra), which matches names as LangChain
   reports them (``gpt-4o-mini-2024-07-18``, ``claude-3-5-sonnet-latest``,
   ``models/gemini-2.0-flash``) and knows each price's start date, tiers and cache prices.

A reader prices many calls through one :class:`Pricer` (the user's prices, the table loaded on
the first call, the models no one prices remembered).

A model neither knows is *unpriced*: its cost is None, never 0, so a sum over it is None too
(the callers list such models). So is a call that reported no usage (a stream that was not
asked for it): its tokens are not known to be 0. Token counts follow LangChain's ``usage_metadata``:
``input_tokens`` includes ``input_token_details.cache_read`` and ``cache_creation``;
``output_tokens`` includes ``output_token_details.reasoning``.

Example:
    >>> from chainsink.cost import call_cost
    >>> call_cost("gpt-4o-mini", {"input_tokens": 1000, "output_tokens": 500})  # doctest: +SKIP
    0.00045
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = [
    "CostUnavailableError",
    "INSTALL_HINT",
    "PRICES_ENV",
    "Pricer",
    "Prices",
    "call_cost",
    "cost_available",
    "decimal_cost",
    "load_prices",
    "price_table_version",
    "token_counts",
]

#: What to run to get the price table.
INSTALL_HINT = 'pip install "chainsink[cost]"'
#: The environment variable naming the user's price file.
PRICES_ENV = "CHAINSINK_PRICES"

_MILLION = Decimal(1_000_000)
_PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_REQUIRED = ("input_mtok", "output_mtok")

#: LangChain's ``ls_provider`` values whose genai-prices provider id differs.
_PROVIDERS = {
    "google_genai": "google", "google_vertexai": "google", "google_anthropic_vertex": "google",
    "amazon_bedrock": "aws", "bedrock": "aws", "bedrock_converse": "aws",
    "azure_openai": "azure", "azure_ai": "azure", "mistralai": "mistral", "xai": "x-ai",
}


class CostUnavailableError(ImportError):
    """The price table is needed and the ``chainsink[cost]`` extra (genai-prices) is missing."""

    def __init__(self) -> None:
        super().__init__(f"cost needs the genai-prices price table: {INSTALL_HINT}")


# -- the user's prices ------------------------------------------------------------------------


class Prices:
    """The user's own prices, in USD per million tokens, which take precedence over the table.

    Args:
        table: Model name (or a ``*``/``?`` pattern) -> ``{"input_mtok": ..., "output_mtok":
            ..., "cache_read_mtok": ..., "cache_write_mtok": ...}``; the first two are
            required, a cache price defaults to the input price.

    Raises:
        ValueError: A model's entry is not a mapping, lacks a required price, has an unknown
            key, or a price that is not a non-negative number.

    Example:
        >>> prices = Prices({"acme-1": {"input_mtok": 0.5, "output_mtok": 1.5}})
        >>> prices.cost("acme-1", {"input_tokens": 2_000_000, "output_tokens": 0})
        Decimal('1.0')
    """

    def __init__(self, table: Mapping[str, Any]) -> None:
        if not isinstance(table, Mapping):
            raise ValueError(f"prices must be a mapping of model names, not "
                             f"{type(table).__name__}")
        self._exact: dict[str, dict[str, Decimal]] = {}
        self._patterns: list[tuple[str, dict[str, Decimal]]] = []
        for model, entry in table.items():
            rates = _rates(str(model), entry)
            name = str(model).lower()
            if "*" in name or "?" in name:
                self._patterns.append((name, rates))
            else:
                self._exact[name] = rates

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Prices:
        """Read prices from a JSON file (``.json``) or a TOML file (any other name).

        Raises:
            ValueError: The file cannot be read or parsed, or holds bad prices (the message
                names the file).
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".json":
                table = json.loads(text)
            else:
                import tomllib

                table = tomllib.loads(text)
            return cls(table)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ValueError(f"{path}: {reason}") from None

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self._find(model) is not None

    def __len__(self) -> int:
        return len(self._exact) + len(self._patterns)

    def __repr__(self) -> str:
        return f"Prices({len(self)} models)"

    def _find(self, model: str) -> dict[str, Decimal] | None:
        name = model.lower()
        found = self._exact.get(name)
        if found is None:
            found = next((r for p, r in self._patterns if fnmatch.fnmatchcase(name, p)), None)
        return found

    def cost(self, model: str, usage: Mapping[str, Any] | None) -> Decimal | None:
        """The cost of one call of ``model`` with ``usage`` (LangChain's usage_metadata keys),
        or None when these prices do not name the model."""
        rates = self._find(model)
        if rates is None:
            return None
        counts = token_counts(usage)
        plain = counts["input_tokens"] - counts["cache_read_tokens"] - counts["cache_write_tokens"]
        total = (max(plain, 0) * rates["input_mtok"]
                 + counts["cache_read_tokens"] * rates["cache_read_mtok"]
                 + counts["cache_write_tokens"] * rates["cache_write_mtok"]
                 + counts["output_tokens"] * rates["output_mtok"])
        return total / _MILLION


def _rates(model: str, entry: Any) -> dict[str, Decimal]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"prices for {model!r} must be a table of {', '.join(_PRICE_KEYS)}")
    unknown = sorted(set(entry) - set(_PRICE_KEYS))
    if unknown:
        raise ValueError(f"prices for {model!r}: unknown key {unknown[0]!r} (known: "
                         f"{', '.join(_PRICE_KEYS)}, in USD per million tokens)")
    rates: dict[str, Decimal] = {}
    for key in _PRICE_KEYS:
        value = entry.get(key)
        if value is None:
            if key in _REQUIRED:
                raise ValueError(f"prices for {model!r}: {key} is required")
            value = rates["input_mtok"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValueError(f"prices for {model!r}: {key} must be a number, not {value!r}")
        try:
            price = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"prices for {model!r}: {key} must be a number, not "
                             f"{value!r}") from None
        if not price.is_finite() or price < 0:
            raise ValueError(f"prices for {model!r}: {key} must be a non-negative number, "
                             f"not {value!r}")
        rates[key] = price
    return rates


def load_prices(source: str | os.PathLike[str] | Mapping[str, Any] | Prices | None = None
                ) -> Prices | None:
    """The user's prices from what a caller was given: a :class:`Prices`, a mapping, a path
    to a TOML or JSON file, or None for the file ``CHAINSINK_PRICES`` names (None if unset).

    Raises:
        ValueError: The prices are malformed or the file cannot be read.
        TypeError: ``source`` is none of these.
    """
    if source is None:
        env = os.environ.get(PRICES_ENV)
        return Prices.load(env) if env else None
    if isinstance(source, Prices):
        return source
    if isinstance(source, Mapping):
        return Prices(source)
    if isinstance(source, (str, os.PathLike)):
        return Prices.load(source)
    raise TypeError(f"prices must be a path, a mapping or Prices, not {type(source).__name__}")


# -- usage --------------------------------------------------------------------------------------


def _count(value: Any) -> int:
    if value.__class__ is int:  # nearly always: a count as JSON and LangChain give it
        return value if value > 0 else 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return 0
    return max(int(value), 0) if math.isfinite(value) else 0


def _usable(value: Any) -> bool:
    """Whether ``value`` is a token count: a number, finite and not negative (not a bool)."""
    if value.__class__ is int:
        return bool(value >= 0)
    return (isinstance(value, float) and math.isfinite(value) and value >= 0)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def token_counts(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """The priced token counts of a ``usage`` mapping (LangChain's usage_metadata keys, with
    ``input_token_details``/``output_token_details``), named as genai-prices names them;
    each detail is clamped to its parent (a detail cannot exceed the tokens it is part of)."""
    given: Mapping[str, Any] = usage if isinstance(usage, Mapping) else {}
    inp, out = _count(given.get("input_tokens")), _count(given.get("output_tokens"))
    details = _mapping(given.get("input_token_details"))
    out_details = _mapping(given.get("output_token_details"))
    cache_read = min(_count(details.get("cache_read")), inp)
    cache_write = min(_count(details.get("cache_creation")), inp - cache_read)
    write_1h = min(_count(details.get("ephemeral_1h_input_tokens")), cache_write)
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_write_1h_tokens": write_1h,
        "cache_write_5m_tokens": min(_count(details.get("ephemeral_5m_input_tokens")),
                                     cache_write - write_1h),
        "input_audio_tokens": min(_count(details.get("audio")), inp - cache_read - cache_write),
        "output_reasoning_tokens": min(_count(out_details.get("reasoning")), out),
        "output_audio_tokens": min(_count(out_details.get("audio")), out),
    }


# -- the price table ----------------------------------------------------------------------------

_lock = threading.Lock()
_module: Any = None
_missing = False


def _genai_prices() -> Any:
    """genai_prices, imported on first need (None when the extra is not installed)."""
    global _module, _missing  # noqa: PLW0603 - a module imported once, on demand
    if _module is None and not _missing:
        with _lock:
            if _module is None and not _missing:
                try:
                    import genai_prices
                except ImportError:
                    _missing = True
                else:
                    _module = genai_prices
    return _module


def cost_available() -> bool:
    """Whether the price table (the ``chainsink[cost]`` extra, genai-prices) is installed."""
    return _genai_prices() is not None


def price_table_version() -> str:
    """Which price table prices are taken from, e.g. ``"genai-prices 0.2.3"`` (the snapshot
    bundled with that release; ``updated <time>`` when genai-prices' ``UpdatePrices`` has
    fetched a newer one).

    Raises:
        CostUnavailableError: The ``chainsink[cost]`` extra is not installed.
    """
    gp = _genai_prices()
    if gp is None:
        raise CostUnavailableError
    text = f"genai-prices {gp.__version__}"
    snapshot = gp.data_snapshot.get_snapshot()
    if getattr(snapshot, "from_auto_update", False):
        text += f" (updated {snapshot.timestamp:%Y-%m-%d %H:%M})"
    return text


#: Each priced count and the counts it is part of (a probe of it sets them too, so the usage
#: it prices is one a provider could report).
_PARENTS: dict[str, tuple[str, ...]] = {
    "input_tokens": (),
    "output_tokens": (),
    "cache_read_tokens": ("input_tokens",),
    "cache_write_tokens": ("input_tokens",),
    "cache_write_1h_tokens": ("input_tokens", "cache_write_tokens"),
    "cache_write_5m_tokens": ("input_tokens", "cache_write_tokens"),
    "input_audio_tokens": ("input_tokens",),
    "output_reasoning_tokens": ("output_tokens",),
    "output_audio_tokens": ("output_tokens",),
}
_PROBE = 1_000_000
#: Per-token rates of each flat (untiered) price met so far, by the price object's id (the
#: object is kept with them, so the id stays its own).
_flat: dict[int, tuple[Any, dict[str, Decimal] | None]] = {}


def _rates_of(gp: Any, price: Any) -> dict[str, Decimal] | None:
    """The per-token rate of each priced count under ``price`` (a genai-prices ModelPrice),
    or None if its cost is not linear in the counts (tiered by prompt size) or cannot be
    probed. A linear price's rates are found by pricing each count alone (with the counts it
    is part of): the cost of any usage is then the sum of its counts times their rates,
    exactly what genai-prices computes, at a fraction of the time."""
    entry = _flat.get(id(price))
    if entry is not None:
        return entry[1]
    rates: dict[str, Decimal] | None = None
    try:
        tiered = gp.types.TieredPrices
        if not any(isinstance(v, tiered) for v in vars(price).values()):
            seen: dict[tuple[str, ...], Decimal] = {}

            def cost(keys: tuple[str, ...]) -> Decimal:
                if keys not in seen:
                    usage = gp.Usage(**dict.fromkeys(keys, _PROBE))
                    seen[keys] = Decimal(price.calc_price(usage)["total_price"])
                return seen[keys]

            # a fixed fee per request (some providers charge one) is the cost of no tokens
            rates = {"": cost(())}
            for key, parents in _PARENTS.items():
                rates[key] = (cost((*parents, key)) - cost(parents)) / _PROBE
    except Exception:  # noqa: BLE001 - an unexpected table: price each call as the table does
        rates = None
    with _lock:
        _flat[id(price)] = (price, rates)
    return rates


def _table_cost(gp: Any, model: str, counts: dict[str, int], provider: str | None,
                when: datetime | None) -> Decimal | None:
    when = when or datetime.now(UTC)
    providers: list[str | None] = [None]
    if provider:
        provider = provider.lower()
        providers.insert(0, _PROVIDERS.get(provider, provider))
    snapshot = gp.data_snapshot.get_snapshot()
    for provider_id in providers:
        try:
            found_provider, info = snapshot.find_provider_model(model, None, provider_id, None)
        except LookupError:
            continue
        price = info.get_prices(when)
        rates = _rates_of(gp, price)
        if rates is not None:
            return sum((rates[k] * n for k, n in counts.items() if n), rates[""])
        usage = gp.Usage(**{k: v for k, v in counts.items() if v})
        try:
            return Decimal(info.calc_price(usage, found_provider,
                                           genai_request_timestamp=when).total_price)
        except ValueError:  # usage the table finds inconsistent: price the plain counts
            try:
                plain = gp.Usage(input_tokens=counts["input_tokens"],
                                 output_tokens=counts["output_tokens"])
                return Decimal(info.calc_price(plain, found_provider,
                                               genai_request_timestamp=when).total_price)
            except ValueError:
                return None
    return None


def decimal_cost(model: str | None, usage: Mapping[str, Any] | None, *,
                 provider: str | None = None, when: datetime | None = None,
                 prices: Prices | None = None) -> Decimal | None:
    """:func:`call_cost` as an exact :class:`~decimal.Decimal` (for sums)."""
    if not isinstance(model, str) or not model:
        return None
    if not isinstance(usage, Mapping) or not (_usable(usage.get("input_tokens"))
                                              or _usable(usage.get("output_tokens"))):
        # a call that reported no usage (a stream without it), or counts that are not counts
        # (text, NaN, negative): not known to be 0
        return None
    if prices is not None:
        own = prices.cost(model, usage)
        if own is not None:
            return own
    gp = _genai_prices()
    if gp is None:
        raise CostUnavailableError
    return _table_cost(gp, model, token_counts(usage), provider, when)


def call_cost(model: str | None, usage: Mapping[str, Any] | None, *,
              provider: str | None = None, when: datetime | None = None,
              prices: Prices | None = None) -> float | None:
    """The cost in USD of one model call, or None when no price is known for the model.

    Args:
        model: The model's name as LangChain reports it (a record's ``model``).
        usage: Its token usage: LangChain's ``usage_metadata`` (a record's ``usage``), with
            ``input_token_details`` (``cache_read``, ``cache_creation``) and
            ``output_token_details`` (``reasoning``) where reported. A call that reported
            no usage (None, or no input or output count) has no known cost: None.
        provider: LangChain's ``ls_provider`` (a record's ``metadata``), to tell apart a model
            several providers sell; a model the provider does not list is looked up by name.
        when: When the call was made, for prices that changed over time (default: now).
        prices: The user's prices (:func:`load_prices`), tried first.

    Raises:
        CostUnavailableError: The model is not in ``prices`` and the ``chainsink[cost]``
            extra is not installed.
    """
    found = decimal_cost(model, usage, provider=provider, when=when, prices=prices)
    return None if found is None else float(found)


# -- a reader's pricer --------------------------------------------------------------------------


class Pricer:
    """Prices the model calls a reader meets, one by one: what ``chainsink stats``, the HTML
    report, ``chainsink query`` and ``export`` share.

    The user's prices are tried first, then the price table. Nothing is imported until the
    first call is priced (a log without model calls never loads the table); a model that no
    one prices is remembered with its provider, so its later calls are not looked up again
    (a miss is the table's slow path). Safe to call from several threads (DuckDB's).

    Args:
        prices: The user's prices (:func:`load_prices`), or None for the table alone.

    Example:
        >>> pricer = Pricer(Prices({"acme-1": {"input_mtok": 1, "output_mtok": 2}}))
        >>> pricer("acme-1", {"input_tokens": 1_000_000, "output_tokens": 0})
        Decimal('1')
    """

    def __init__(self, prices: Prices | None = None) -> None:
        #: The user's prices, tried before the table.
        self.prices = prices
        self._table: bool | None = None
        self._missing_table = False
        self._unknown: set[tuple[str, str | None]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Pricer({self.prices!r})"

    @property
    def table(self) -> bool:
        """Whether the price table (the ``chainsink[cost]`` extra) is installed."""
        if self._table is None:
            self._table = cost_available()
        return self._table

    @property
    def shown(self) -> bool:
        """Whether anything can be priced: the table, or the user's prices."""
        return self.prices is not None or self.table

    @property
    def missing_table(self) -> bool:
        """Whether a call went unpriced for want of the price table (to say so once)."""
        return self._missing_table

    def __call__(self, model: str | None, usage: Mapping[str, Any] | None,
                 provider: str | None = None, when: datetime | None = None) -> Decimal | None:
        """What one call cost in USD (see :func:`call_cost` for the arguments); None when
        unpriced: no price for the model, no usage reported, or nothing to price with. Odd
        values are unpriced too: this never raises."""
        if not isinstance(model, str) or not model or not isinstance(usage, Mapping):
            return None
        provider = provider if isinstance(provider, str) else None
        if (model, provider) in self._unknown:
            return None
        try:
            found = decimal_cost(model, usage, provider=provider,
                                 when=when if isinstance(when, datetime) else None,
                                 prices=self.prices)
        except CostUnavailableError:  # a model the user's prices do not name, and no table
            self._missing_table = True
            return None
        except Exception:  # noqa: BLE001 - odd log content is unpriced, never a traceback
            return None
        if found is None and (usage.get("input_tokens") is not None
                              or usage.get("output_tokens") is not None):
            with self._lock:  # a usage that can be priced, of a model no one prices
                self._unknown.add((model, provider))
        return found

    def price_record(self, rec: Mapping[str, Any]) -> Decimal | None:
        """What the model call of an ``llm_end`` record (a dict as read from a log) cost: its
        ``model``, ``usage``, ``metadata.ls_provider`` and ``ts``; None when unpriced."""
        from chainsink._schema import parse_time

        metadata = rec.get("metadata")
        provider = metadata.get("ls_provider") if isinstance(metadata, Mapping) else None
        return self(rec.get("model"), rec.get("usage"), provider, parse_time(rec.get("ts")))
