"""The ``neuronet`` command line: demos, and training on your own CSV data.

    neuronet demo [dense|cnn|text|forecast|gan|resnet]   (demo text --model cnn|lstm|gru|transformer)
    neuronet predict-text sentiment.nnet "the plot was not boring"
    neuronet train data.csv --target label --hidden 64,32 --out model.nnet
    neuronet evaluate model.nnet test.csv
    neuronet predict model.nnet new.csv --out predictions.csv --proba --keep id
    neuronet summary model.nnet
    neuronet export model.nnet model.onnx
    neuronet explain model.nnet test.csv --out step.html

Every mistake (in the command, the data or a model file) is one line and a non-zero exit code, found before
training starts where it can be. The parts: ``arguments`` (what an argument may hold, CLIError), ``parser``
(the commands and their options), ``demo``, ``table_summary`` (what the checks need of a CSV, gathered a
chunk of rows at a time), ``reading`` (a CSV table checked from it), ``table_settings`` (what ``train`` saves
and the other table commands read), ``settings`` (what those and the text settings share), ``encoded_table``
(``train``'s rows encoded into a memory-mapped temporary file), ``scores``, ``train``, ``use`` (evaluate,
predict, summary, export, explain) and ``text`` (predict-text).
"""

from __future__ import annotations

import os
import sys

from .. import process
from ..saving import ModelFileError
from .parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (the process's arguments if None); returns the exit code."""
    if not process.is_writer():  # under mpiexec, rank 0 speaks for all
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- for the life of the process
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the command's own parser, whose --help lists what it takes
            command = f"{parser.prog} {args.command}"
            parser.exit(2, f"{command}: error: unrecognized arguments: {' '.join(extra)} (see {command} --help)\n")
        if args.command == "demo" and args.model is not None and args.kind != "text":
            parser.error(f"--model chooses the network of `demo text`, not of `demo {args.kind}`")
    except SystemExit as exc:  # --help, --version, or a mistake in the command (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        args.func(args)
    except BrokenPipeError:  # the reader went away (neuronet evaluate ... | head): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, OSError, ImportError, MemoryError, ModelFileError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the message held
        if isinstance(exc, MemoryError):
            message = f"not enough memory ({message}); use smaller layers or less data"
        print(f"neuronet: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("neuronet: interrupted", file=sys.stderr)
        return 130
    return 0
