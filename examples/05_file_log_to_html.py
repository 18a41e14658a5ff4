"""An ANSI-coloured callback log turned into an HTML page with ansi2html, next to loguru.

Re-creates the "log to a file" example from the LangChain callbacks docs on a fake model:
an ``LLMChain`` runs with ``verbose=True`` (so it prints to stdout) and a
``chainsink.FileCallbackHandler(logfile, format="ansi")`` (so LangChain's file log, colour codes
included, is written to ``output.log``); loguru, added to the same file with ``colorize=True``,
logs the answer.
The file is then converted with ``Ansi2HTMLConverter().convert(text, full=True)`` into
``output.html``, where the ANSI codes (the prompt in bold green italics, loguru's coloured
fields) become ``<span class="ansi1 ansi3 ansi32">``-style spans.

Finally, loguru also writes the chain's events: a ``chainsink.CallbackHandler`` whose sink is a
function calling ``logger.info`` sends every formatted event to a loguru log
(``loguru.log``), so the callback log and the application log share one place and format.

Run from the repository root (with chainsink installed, e.g. ``pip install -e .``)::

    python examples/05_file_log_to_html.py [OUTPUT_DIR]

``output.log``, ``output.html`` and ``loguru.log`` go to OUTPUT_DIR (a fresh temporary directory
by default).
"""

from __future__ import annotations

import re
import sys
import tempfile
import warnings
from pathlib import Path

from ansi2html import Ansi2HTMLConverter
from langchain_classic.chains import LLMChain
from langchain_core.language_models import FakeListLLM
from langchain_core.prompts import PromptTemplate
from loguru import logger

import chainsink
from chainsink.formatters import ConsoleFormatter

warnings.simplefilter("ignore", DeprecationWarning)


def output_dir() -> Path:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="chainsink-example-"))


def banner(title: str) -> None:
    print(f"\n{'=' * 10} {title} {'=' * 10}")


def main() -> None:
    out = output_dir()
    logfile = out / "output.log"
    logfile.unlink(missing_ok=True)

    banner("LLMChain with verbose=True and FileCallbackHandler(format='ansi')")
    sink_id = logger.add(logfile, colorize=True, enqueue=True)
    handler = chainsink.FileCallbackHandler(str(logfile), format="ansi")
    try:
        llm = FakeListLLM(responses=["\n\n3"])
        prompt = PromptTemplate.from_template("1 + {number} = ")
        # This chain both prints to stdout (verbose=True) and writes to output.log.
        chain = LLMChain(llm=llm, prompt=prompt, callbacks=[handler], verbose=True)
        answer = chain.invoke({"number": 2})["text"]
        logger.info(answer)
    finally:
        handler.close()
        logger.remove(sink_id)  # waits for loguru's queue to drain into the file

    content = logfile.read_text(encoding="utf-8")
    banner(f"{logfile} (ANSI escapes shown as \\x1b)")
    print(content.replace("\x1b", "\\x1b"))

    html = Ansi2HTMLConverter().convert(content, full=True)
    html_path = out / "output.html"
    html_path.write_text(html, encoding="utf-8")
    banner(f"{html_path}: the <pre> block of the page")
    pre = html[html.find("<pre") : html.find("</pre>") + len("</pre>")]
    print(pre)
    print(f"({len(html)} characters in all, {len(re.findall('<span', html))} coloured spans)")

    banner("loguru writing the chain's events via chainsink.CallbackHandler")
    loguru_file = out / "loguru.log"
    loguru_id = logger.add(loguru_file, format="{time:HH:mm:ss.SSS} | {level: <8} | {message}")
    try:
        to_loguru = chainsink.CallbackHandler(
            lambda text: logger.info(text.rstrip("\n")),
            ConsoleFormatter(style="detailed", ansi=False),
        )
        llm = FakeListLLM(responses=["\n\n4"])
        chain = LLMChain(llm=llm, prompt=PromptTemplate.from_template("2 + {number} = "))
        answer = chain.invoke({"number": 2}, config={"callbacks": [to_loguru]})["text"]
        logger.info("answer: {!r}", answer)
    finally:
        logger.remove(loguru_id)
    print(loguru_file.read_text(encoding="utf-8").rstrip())


if __name__ == "__main__":
    main()
