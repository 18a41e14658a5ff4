"""The public names are a contract: exported explicitly, sorted, and importable."""

import chainsink
import chainsink.formatters
import chainsink.sinks


def test_all_is_sorted_and_complete() -> None:
    """`chainsink.__all__` is sorted and every name in it exists."""
    assert chainsink.__all__ == sorted(chainsink.__all__)
    for name in chainsink.__all__:
        assert hasattr(chainsink, name), name


def test_public_names_are_exported() -> None:
    """Every public (non-underscore, non-module) attribute of chainsink is in __all__."""
    public = {
        name for name in dir(chainsink)
        if not name.startswith("_") and type(getattr(chainsink, name)).__name__ != "module"
        and name not in ("annotations", "TYPE_CHECKING", "Any")
    }
    assert public == set(chainsink.__all__)


def test_unknown_attribute_raises() -> None:
    """A name chainsink does not have raises AttributeError (lazy loading hides nothing)."""
    import pytest

    with pytest.raises(AttributeError):
        chainsink.NoSuchThing  # noqa: B018


def test_subpackages_export_sorted_names() -> None:
    """formatters and sinks re-export their building blocks with a sorted __all__."""
    for module in (chainsink.formatters, chainsink.sinks):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


def test_stdout_handler_is_langchains_subclass() -> None:
    """chainsink's StdOutCallbackHandler is a langchain-core StdOutCallbackHandler."""
    from langchain_core.callbacks import StdOutCallbackHandler

    assert issubclass(chainsink.StdOutCallbackHandler, StdOutCallbackHandler)
