"""What every ylg_tf binary shares: help built from its own module, and short error messages.

absl builds `--help` from `sys.modules["__main__"]`, which for an installed console script is
pip's wrapper: without this, `ylg-train --help` shows an empty usage line and no flags. And an
error a user can cause (a typo in a flag or config field, a missing file, a bad value) is
printed as one `<binary>: error: ...` line instead of chained tracebacks; `--debug` brings the
traceback back.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable

from absl import app, flags

_DEBUG = flags.DEFINE_bool("debug", False, "On errors, show the full Python traceback.")

#: Errors a user causes while running: bad values (the library's ValueErrors name the field or
#: flag and what is accepted) and missing or unreadable files.
USER_ERRORS = (ValueError, OSError)
#: While flags are parsed, also what a config file or a `--config.x=` override raises for a typo.
PARSE_ERRORS = (*USER_ERRORS, KeyError, AttributeError, TypeError)


def run(main: Callable[[list[str]], None], module_name: str) -> None:
    """Runs `main` like `absl.app.run`, with `module_name`'s docstring and flags as `--help`."""
    module = sys.modules[module_name]
    sys.modules["__main__"].__doc__ = module.__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module_name):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    for flag in flags.FLAGS.get_key_flags_for_module(__name__):  # --debug
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(_guarded(main), flags_parser=_parse_flags)


def validate_with(flag_name: str, check: Callable) -> None:
    """Checks the flag at parse time with `check(value)`, a library function that raises
    ValueError naming what it accepts (None, the flag's "not given", is not checked)."""

    def validator(value) -> bool:
        if value is not None:
            try:
                check(value)
            except ValueError as error:
                raise flags.ValidationError(str(error)) from None
        return True

    flags.register_validator(flag_name, validator)


def _program() -> str:
    return os.path.basename(sys.argv[0]) or "ylg"


def fail(message: str, exit_code: int = 1) -> None:
    """Prints `<binary>: error: message` on stderr and exits."""
    sys.stderr.write(f"{_program()}: error: {message}\n")
    sys.exit(exit_code)


#: absl's help flags, which print the help and exit with 1; asked-for help exits with 0 here.
_HELP_FLAGS = ("--help", "-?", "--helpshort", "--helpfull", "--helpxml")


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, with config-override and flag errors as one line (exit code 2)."""
    missing = _missing_config_file(argv)
    if missing:
        fail(missing, 2)
    try:
        return flags.FLAGS(argv)
    except SystemExit as stop:
        if stop.code == 1 and any(arg.partition("=")[0] in _HELP_FLAGS for arg in argv):
            sys.exit(0)
        raise
    except flags.Error as error:
        fail(f"{error} (--help lists the flags)", 2)
    except PARSE_ERRORS as error:  # ml_collections config files and `--config.x=` overrides
        if "--debug" in argv:
            raise
        fail(_unknown_field(_message(error), argv), 2)
    return []  # not reached


def _missing_config_file(argv: list[str]) -> str | None:
    """ml_collections reports a missing `--config` file only when the config is first read, as
    "Configuration is not available because of an earlier failure to load: ...": say it first."""
    for i, arg in enumerate(argv[1:], 1):
        name, equals, value = arg.partition("=")
        if name != "--config" or "config" not in flags.FLAGS:
            continue
        if not equals:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        path = value.split(":")[0]
        if path and not os.path.isfile(path):
            return f"--config={value}: there is no config file {path}."
    return None


def _unknown_field(message: str, argv: list[str]) -> str:
    """ml_collections' error for an override of a field that does not exist is the bare field
    name (when no field is close enough to suggest one): say which override it came from."""
    if not message.isidentifier():
        return message
    for arg in argv:
        name = arg.partition("=")[0]
        if name.startswith("--config.") and name.split(".")[-1] == message:
            return (
                f"{name[2:]} is not a config field (in {arg}). G's and D's fields are under "
                "config.model.generator and config.model.discriminator."
            )
    return message


def _guarded(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    def guarded(argv: list[str]) -> None:
        try:
            main(argv)
        except app.UsageError as error:  # absl would print the whole --help text first
            fail(f"{error} (--help lists the flags)", 2)
        except USER_ERRORS as error:
            if _DEBUG.value:
                raise
            fail(f"{_message(error)} (--debug shows the traceback)")

    return guarded


#: Keras re-raises an error from a layer's `call` with its text in bold (terminal escapes)
#: between "Exception encountered when calling X.call()." and the arguments it received.
_KERAS_CALL_ERROR = re.compile(
    r"Exception encountered when calling (\S+)\.\s*\x1b\[1m(.*?)\x1b\[0m", re.S
)
_TERMINAL_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _message(error: BaseException) -> str:
    """The exception's own text: KeyError and AttributeError quote it, ml_collections nests it,
    Keras wraps a layer's error in its call context (kept as "in X.call()")."""
    text = str(error.args[0]) if len(error.args) == 1 else str(error)
    while text.startswith(("'", '"')) and text.endswith(("'", '"')) and len(text) > 1:
        text = text[1:-1]
    keras_call = _KERAS_CALL_ERROR.search(text)
    if keras_call:
        text = f"{keras_call.group(2).strip()} (in {keras_call.group(1)})"
    text = _TERMINAL_ESCAPE.sub("", text)
    return text.replace("\\n", " ").replace("\\'", "'").replace("\n", " ")
