"""Turning startup failures into one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from orin.config import SettingsError
from orin.errors import OrinError

P = ParamSpec("P")
T = TypeVar("T")

EXIT_SETTINGS = 2
EXIT_UNAVAILABLE = 3


def fail(message: str, code: int) -> None:
    """Print ``orin: error: <message>`` on stderr and exit with ``code``."""
    print(f"orin: error: {message}", file=sys.stderr)  # noqa: T201 - the CLI's own output
    raise SystemExit(code)


def plain_errors(command: Callable[P, T]) -> Callable[P, T]:
    """Run ``command`` so that known failures end the process with one line."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except SettingsError as exc:
            fail(str(exc), EXIT_SETTINGS)
        except OrinError as exc:
            fail(exc.message, EXIT_UNAVAILABLE)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        raise AssertionError("unreachable")

    return run
