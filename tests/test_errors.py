"""One error tree: every exception class the project defines derives from BroadcasterError, on its branch."""

from __future__ import annotations

import importlib
import inspect

import pytest

from broadcaster import errors
from broadcaster.accounts import LoginRefused
from broadcaster.errors import (
    BroadcasterError,
    ConfigError,
    DeliveryError,
    InputError,
    MissingCredentials,
    PartialDelivery,
    PermanentError,
    RefusedError,
    TransientError,
)
from broadcaster.web.console.api import Refused
from channels.fm.speech import EngineMissing, SpeechError
from feeds.jma.atom import AtomError
from feeds.jma.xmlsafe import RefusedDocument
from tests.test_layers import modules


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in the project's modules, by dotted name (private ones included)."""
    found: dict[str, type[BaseException]] = {}
    for name in modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{attr}"] = value
    return found


DEFINED = defined_exceptions()
# a module's own control flow, caught in the function that raised it; they never reach a caller
PRIVATE = {name for name in DEFINED if name.rpartition(".")[2].startswith("_")}
PUBLIC = sorted(set(DEFINED) - PRIVATE)


def test_the_walk_finds_the_errors_outside_the_core() -> None:
    assert {"channels.fm.speech.SpeechError", "feeds.jma.atom.AtomError", "broadcaster.accounts.LoginRefused"} <= set(
        PUBLIC
    )


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_exception_derives_from_the_tree(name: str) -> None:
    assert issubclass(DEFINED[name], BroadcasterError), f"{name} derives from {DEFINED[name].__mro__[1].__name__}"


@pytest.mark.parametrize(
    ("error", "branch"),
    [
        (DeliveryError, BroadcasterError),
        (TransientError, DeliveryError),
        (PermanentError, DeliveryError),
        (PartialDelivery, DeliveryError),
        (ConfigError, BroadcasterError),
        (MissingCredentials, ConfigError),
        (InputError, BroadcasterError),
        (AtomError, InputError),
        (RefusedDocument, InputError),
        (RefusedError, BroadcasterError),
        (LoginRefused, RefusedError),
        (Refused, RefusedError),
        (SpeechError, BroadcasterError),
        (EngineMissing, SpeechError),
    ],
)
def test_each_error_sits_on_its_branch(error: type[BroadcasterError], branch: type[BroadcasterError]) -> None:
    assert error.__mro__[1] is branch
    assert issubclass(error, BroadcasterError)


@pytest.mark.parametrize("name", PUBLIC)
def test_the_diagram_in_errors_py_names_every_error(name: str) -> None:
    short = name.rpartition(".")[2]
    assert short in (errors.__doc__ or ""), f"{name} is missing from the tree in broadcaster/errors.py"
