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

    absl's flags are global and each binary defines `--workdir`: the flags of binaries loaded
    before (and the `--config.x` overrides that parsing a config file defines) are dropped and
    the binary's module is imported again, with every flag at its default.
    """
    from ylg_tf.cli import app

    for name in [m for m in sys.modules if m.startswith("ylg_tf.cli.") and m != app.__name__]:
        for flag in flags.FLAGS.get_flags_for_module(name):
            delattr(flags.FLAGS, flag.name)
        del sys.modules[name]
    for name in [name for name in flags.FLAGS if "." in name]:  # `--config.x` of a last parse
        delattr(flags.FLAGS, name)
    module = importlib.import_module(f"ylg_tf.cli.{MODULES[binary]}")
    flags.FLAGS.unparse_flags()
    stdout, stderr = io.StringIO(), io.StringIO()
    handler = py_logging.StreamHandler(stderr)
    absl_logger = logging.get_absl_logger()
    level = absl_logger.level
    absl_logger.addHandler(handler)
    absl_logger.setLevel(py_logging.INFO)
    argv = sys.argv
    sys.argv = [binary, *args]
    code = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                app._guarded(module.main)(app._parse_flags(sys.argv))
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
            except Exception:  # what the interpreter prints for an uncaught error
                stderr.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = argv
        absl_logger.removeHandler(handler)
        absl_logger.setLevel(level)
    return Result(code, stdout.getvalue(), stderr.getvalue())
