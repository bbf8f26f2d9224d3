"""A binary's `main` called in this process, parsed and guarded as its console script does.

Starting a binary costs seconds of imports before it does anything; a test of what a binary does
(its flags, messages, exit codes, files) calls `run_binary` instead, and only a test about the
process itself (signals, a second process, a fresh process loading an export, a command that
README documents) starts one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import logging as py_logging
import sys
import traceback

from absl import flags, logging

#: Each console script's module under `ylg_tf.cli`.
MODULES = {
    "ylg-train": "train",
    "ylg-eval": "evaluate",
    "ylg-sample": "sample",
    "ylg-export": "export",
    "ylg-invert": "invert",
    "ylg-masks": "masks",
}


@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_binary(binary: str, *args: str) -> Result:
    """Runs `binary args` (`binary` as in `MODULES`) here, returning what the process would:
    the exit code, stdout and stderr (absl log lines at INFO and above included).

    absl's flags are global and each binary defines `--workdir`: every flag of other modules
    (binaries and scripts loaded before) is set aside for the call and put back after it, and the
    binary's module is imported again, with every flag at its default.
    """
    from ylg_tf.cli import app

    saved = _set_aside_flags(keep=("absl.", app.__name__))
    for name in [m for m in sys.modules if m.startswith("ylg_tf.cli.") and m != app.__name__]:
        del sys.modules[name]
    stdout, stderr = io.StringIO(), io.StringIO()
    handler = py_logging.StreamHandler(stderr)
    absl_logger = logging.get_absl_logger()
    level = absl_logger.level
    absl_logger.addHandler(handler)
    argv = sys.argv
    sys.argv = [binary, *args]
    code = 0
    try:
        module = importlib.import_module(f"ylg_tf.cli.{MODULES[binary]}")
        flags.FLAGS.unparse_flags()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                parsed = app._parse_flags(sys.argv)
                absl_logger.setLevel(py_logging.INFO)  # parsing sets it from --verbosity
                app._guarded(module.main)(parsed)
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
            except Exception:  # what the interpreter prints for an uncaught error
                stderr.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = argv
        absl_logger.removeHandler(handler)
        absl_logger.setLevel(level)
        _set_aside_flags(keep=("absl.", app.__name__))  # the binary's own
        for name, (flag, owner) in saved.items():
            flags.FLAGS[name] = flag
            if owner:
                flags.FLAGS.register_flag_by_module(owner, flag)
    return Result(code, stdout.getvalue(), stderr.getvalue())


def _set_aside_flags(keep: tuple[str, ...]) -> dict:
    """Removes every flag but those of modules named `keep*` (absl's own, `--debug`), and the
    `--config.x` overrides a parsed config file defined; returns the others' as
    `{name: (flag, defining module)}`."""
    removed = {}
    for name in list(flags.FLAGS):
        module = flags.FLAGS.find_module_defining_flag(name) or ""
        if "." in name:  # absl defines them in its own module
            delattr(flags.FLAGS, name)
        elif not module.startswith(keep):
            removed[name] = (flags.FLAGS[name], module)
            delattr(flags.FLAGS, name)
    return removed
