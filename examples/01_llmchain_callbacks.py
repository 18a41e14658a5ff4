"""The three places to pass a callback handler to an ``LLMChain``.

Re-creates the classic LangChain callbacks walk-through ("1 + {number} = ") on a fake model:

1. constructor callbacks: ``LLMChain(..., callbacks=[handler])``: used for every call of
   this chain, and only for the chain itself (its LLM does not see the handler);
2. ``verbose=True``: after ``chainsink.install()``, LangChain's verbose flag uses chainsink's
   detailed stdout handler instead of its own ``StdOutCallbackHandler``;
3. request callbacks: ``chain.invoke(inputs, config={"callbacks": [handler]})``: used for this
   call only, and inherited by everything the call runs (here the LLM too, which the
   detailed style shows).

Each way prints LangChain's familiar ``> Entering new LLMChain chain...`` block.

Run from the repository root (with chainsink installed, e.g. ``pip install -e .``)::

    python examples/01_llmchain_callbacks.py

It writes no files; an optional argv[1] (an output directory) is accepted and ignored so that
every example can be run the same way.
"""

from __future__ import annotations

import warnings

from langchain_classic.chains import LLMChain
from langchain_core.language_models import FakeListLLM
from langchain_core.prompts import PromptTemplate

import chainsink

# LLMChain is deprecated in LangChain 1.x, but it is what the classic walk-through uses.
warnings.simplefilter("ignore", DeprecationWarning)


def make_llm() -> FakeListLLM:
    """A fake LLM that always answers what a real one answered in the original docs."""
    return FakeListLLM(responses=["\n\n3"])


def banner(title: str) -> None:
    print(f"\n{'=' * 10} {title} {'=' * 10}")


def main() -> None:
    handler = chainsink.StdOutCallbackHandler()
    prompt = PromptTemplate.from_template("1 + {number} = ")

    banner("1. constructor callbacks: LLMChain(..., callbacks=[handler])")
    chain = LLMChain(llm=make_llm(), prompt=prompt, callbacks=[handler])
    result = chain.invoke({"number": 2})
    print(f"result: {result!r}")

    banner("2. verbose=True (after chainsink.install())")
    chainsink.install()
    try:
        chain = LLMChain(llm=make_llm(), prompt=prompt, verbose=True)
        result = chain.invoke({"number": 2})
    finally:
        chainsink.uninstall()
    print(f"result: {result!r}")

    banner('3. request callbacks: chain.invoke(..., config={"callbacks": [handler]})')
    chain = LLMChain(llm=make_llm(), prompt=prompt)
    result = chain.invoke({"number": 2}, config={"callbacks": [handler]})
    print(f"result: {result!r}")

    banner('3b. request callbacks, style="detailed": the LLM run inherits the handler')
    detailed = chainsink.StdOutCallbackHandler(style="detailed")
    result = chain.invoke({"number": 2}, config={"callbacks": [detailed]})
    print(f"result: {result!r}")


if __name__ == "__main__":
    main()
