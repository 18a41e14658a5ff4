"""install()/uninstall(): LangChain's verbose prints through chainsink's detailed console."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import StdOutCallbackHandler as LangChainStdOut
from langchain_core.callbacks import manager
from langchain_core.globals import set_verbose
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import chainsink


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    chainsink.uninstall()
    set_verbose(False)


def verbose_chain(text: str = "the model says hi", verbose: bool | None = True) -> Any:
    kwargs = {} if verbose is None else {"verbose": verbose}
    model = GenericFakeChatModel(messages=iter([AIMessage(content=text)]), **kwargs)
    return ChatPromptTemplate.from_messages([("human", "ask {q}")]) | model | StrOutputParser()


def test_langchain_verbose_prints_nothing_in_lcel(capsys: pytest.CaptureFixture[str]) -> None:
    """Baseline: a verbose chat model inside LCEL prints nothing with langchain-core alone."""
    verbose_chain().invoke({"q": "x"})
    assert capsys.readouterr().out == ""


def test_install_prints_model_io_and_uninstall_restores(
        capsys: pytest.CaptureFixture[str]) -> None:
    """After install() the verbose model prints prompt and output; uninstall() silences it."""
    chainsink.install()
    chainsink.install()  # idempotent
    assert chainsink.installed()
    verbose_chain().invoke({"q": "weather"})
    out = capsys.readouterr().out
    assert "ask weather" in out and "the model says hi" in out
    assert out.count("the model says hi") == 1  # one handler, not two
    chainsink.uninstall()
    assert not chainsink.installed()
    assert manager.StdOutCallbackHandler is LangChainStdOut
    verbose_chain().invoke({"q": "weather"})
    assert capsys.readouterr().out == ""


def test_set_verbose_global(capsys: pytest.CaptureFixture[str]) -> None:
    """set_verbose(True) makes models built afterwards print through chainsink after install."""
    chainsink.install()
    set_verbose(True)
    verbose_chain("global verbose", verbose=None).invoke({"q": "x"})
    assert "global verbose" in capsys.readouterr().out


def test_existing_stdout_handler_is_not_doubled(capsys: pytest.CaptureFixture[str]) -> None:
    """A user's own StdOut handler still stops verbose from adding a second one."""
    from langchain_classic.chains import LLMChain
    from langchain_core.language_models import FakeListLLM
    from langchain_core.prompts import PromptTemplate

    chainsink.install()
    chain = LLMChain(llm=FakeListLLM(responses=["ok"]),
                     prompt=PromptTemplate.from_template("p {x}"), verbose=True)
    chain.invoke({"x": 1}, config={"callbacks": [LangChainStdOut()]})
    out = capsys.readouterr().out
    assert out.count("> Entering new LLMChain chain...") == 1
