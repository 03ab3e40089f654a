"""The commands of ``neuronet`` and their options, as argparse reads them (``build_parser``)."""

from __future__ import annotations

import argparse

from ..version import __version__
from . import demo
from .arguments import delimiter, input_shape, layer_sizes, names, number, whole_number
from .table_summary import MAX_CATEGORIES
from .text import cmd_predict_text
from .train import cmd_train, hidden_activations, optimizer_classes
from .use import cmd_evaluate, cmd_explain, cmd_export, cmd_predict, cmd_summary


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported as one line (not the usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_delimiter(p) -> None:
    p.add_argument(
        "--delimiter",
        type=delimiter,
        help="the CSV's column separator (default: found from the header line: , ; tab or |)",
    )


DOCTOR_HELP = (
    "watch the training (callbacks.TrainingDoctor) and print what goes wrong (inputs not scaled, a learning rate "
    'too high, dead ReLUs, ...) with what to change, or "no findings"'
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command and its options; each command's function is its ``func`` default."""
    p = Parser(prog="neuronet", description="Neural networks from scratch on NumPy.")
    p.add_argument("--version", action="version", version=f"neuronet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="train a network on bundled data (no download) and report test scores")
    d.add_argument(
        "kind",
        nargs="?",
        choices=demo.KINDS,
        default="dense",
        help="dense: digits as pixels (default); cnn: digits as images; text: sentiment of reviews; "
        "forecast: monthly CO2 at Mauna Loa, forecast by an LSTM; gan: a GAN that learns to draw digits (300 "
        "epochs: about half a minute on an idle 2-core machine, several times longer when other work shares "
        "the cores); resnet: digits as images, a small ResNet next to the plain CNN of the same layers without its "
        "residual connections; writer: a character-level Transformer learns to write like neuronet's documentation "
        "(about 2 minutes on an idle 2-core machine)",
    )
    d.add_argument(
        "--model",
        choices=sorted(demo.TEXT_MODELS),
        help="the network of `demo text`: cnn (default), lstm, gru or transformer, to compare them on the same reviews",
    )
    d.add_argument(
        "--epochs",
        type=whole_number(1),
        help=f"passes over the training data (default 30; gan 300; resnet 20; writer {demo.WRITER_EPOCHS})",
    )
    d.add_argument(
        "--prompt",
        help=f"the text `demo writer` continues after each epoch (default {demo.WRITER_PROMPT!r})",
    )
    d.add_argument(
        "--temperature",
        type=number(low=0.0),
        default=0.8,
        help="how freely `demo writer` samples: 1 as the model predicts, lower sharper, 0 the likeliest (default 0.8)",
    )
    d.add_argument("--seed", type=int, default=0, help="random seed for the split and the weights (default 0)")
    d.add_argument(
        "--plot",
        nargs="?",
        const=True,
        metavar="PNG",
        help=f"write the training curves to PNG ({demo.CURVES_PICTURE} if no name is given; default: no picture); "
        f"forecast: the forecast against the truth (default {demo.FORECAST_PICTURE}); gan: the losses, and samples "
        f"every {demo.GAN_EVERY} epochs to {demo.GAN_GRIDS.replace('{epoch:03d}', 'NNN')}; cnn: beside the curves, "
        "what the network learned (its filters, activation maps, saliency, gradient norms, diagram)",
    )
    d.add_argument(
        "--out", help="save the trained model here (the text demo's works with predict-text; default: not saved)"
    )
    d.add_argument("--doctor", action="store_true", help=DOCTOR_HELP)
    d.set_defaults(func=demo.cmd_demo)

    t = sub.add_parser("train", help="train on a CSV file with a header row")
    t.add_argument(
        "data",
        help="CSV file: a header row, feature columns (numbers, or text encoded one-hot) and one target column; "
        "numbers are ASCII digits with an optional sign, decimal point and exponent (1e-3); a first column with "
        "no name and distinct whole numbers (a pandas index) is left out",
    )
    t.add_argument("--target", required=True, help="name of the column to predict (required)")
    t.add_argument("--out", required=True, help="where to save the model, e.g. model.nnet (required)")
    t.add_argument(
        "--features",
        type=names,
        action="extend",
        help="the columns to learn from, e.g. a,b,c (default: all but the target)",
    )
    t.add_argument("--drop", type=names, action="extend", help="columns to leave out, e.g. id,name (default: none)")
    t.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: classification for text labels or up to 20 whole-number values, else regression; "
        "numeric labels are numbers (2, 2.0 and +2 are one class, named 2)",
    )
    t.add_argument(
        "--no-one-hot",
        action="store_true",
        help=f"refuse text feature columns; default: each is encoded as one 0/1 input per value (at most "
        f"{MAX_CATEGORIES}, and half the rows), the values saved in the model; a value not seen in training is "
        "an error in evaluate and predict",
    )
    t.add_argument(
        "--hidden",
        type=layer_sizes,
        default="64",
        help="hidden layer sizes, e.g. 64,32, or none for no hidden layer (default 64)",
    )
    t.add_argument(
        "--activation", choices=hidden_activations(), default="relu", help="of the hidden layers (default relu)"
    )
    t.add_argument(
        "--dropout",
        type=number(low=0.0, high=1.0, high_open=True),
        default=0.0,
        help="fraction of each hidden layer's outputs dropped while training (default 0: no dropout)",
    )
    t.add_argument(
        "--l2", type=number(low=0.0), default=0.0, help="L2 penalty on every layer's weights (default 0: none)"
    )
    t.add_argument(
        "--optimizer",
        choices=sorted(optimizer_classes()),
        default="adam",
        help="the rule that turns gradients into steps (default adam)",
    )
    t.add_argument(
        "--learning-rate", type=number(low=0.0, low_open=True), default=0.001, help="step size (default 0.001)"
    )
    t.add_argument(
        "--epochs", type=whole_number(1), default=200, help="most passes over the training rows (default 200)"
    )
    t.add_argument("--batch-size", type=whole_number(1), default=32, help="rows per training step (default 32)")
    t.add_argument(
        "--early-stopping",
        type=whole_number(0),
        metavar="PATIENCE",
        help="stop when the validation loss has not improved for PATIENCE epochs and keep the best epoch's "
        "weights (default 10; 0 trains every epoch)",
    )
    t.add_argument(
        "--validation-split",
        type=number(low=0.0, high=1.0, high_open=True),
        default=0.2,
        help="fraction of rows held out to validate on, stratified by class for classification (default 0.2)",
    )
    t.add_argument(
        "--drop-missing",
        action="store_true",
        help="leave out rows with a missing value (empty, NA, NaN, null, ?) in a used column; default: stop "
        "with an error naming them",
    )
    _add_delimiter(t)
    t.add_argument("--seed", type=int, default=0, help="random seed for the split and the weights (default 0)")
    t.add_argument("--quiet", action="store_true", help="print no line per epoch")
    t.add_argument(
        "--plot", action="store_true", help='write the training curves as PNG next to the model (matplotlib: ".[plot]")'
    )
    t.add_argument("--doctor", action="store_true", help=DOCTOR_HELP)
    t.add_argument(
        "--class-weight",
        choices=["balanced"],
        help="classification: weight each class's rows by rows / (classes * the class's rows), as scikit-learn's "
        '"balanced", so rare classes count as much as common ones (default: every row weighs 1)',
    )
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score a trained model on a labelled CSV file")
    e.add_argument("model", help="a model file from `neuronet train`")
    e.add_argument("data", help="CSV file with the model's feature columns and its target column")
    e.add_argument("--drop-missing", action="store_true", help="leave out rows with a missing value (default: error)")
    _add_delimiter(e)
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict the target for each row of a CSV file")
    pr.add_argument("model", help="a model file from `neuronet train`")
    pr.add_argument("data", help="CSV file with the model's feature columns")
    pr.add_argument("--out", help="CSV file for the predictions (default: print them)")
    pr.add_argument("--proba", action="store_true", help="one probability column per class, headed by its name")
    pr.add_argument(
        "--keep",
        type=names,
        action="extend",
        help="columns copied into the predictions first, e.g. an id column (default: none)",
    )
    pr.add_argument(
        "--drop-missing",
        action="store_true",
        help="leave out rows with a missing value in a feature (said on stderr; they get no prediction, so "
        "--keep an id column to line the rest up); default: error",
    )
    _add_delimiter(pr)
    pr.set_defaults(func=cmd_predict)

    pt = sub.add_parser("predict-text", help="classify sentences with a text model (from `demo text --out`)")
    pt.add_argument("model", help="a model file from `neuronet demo text --out MODEL`")
    pt.add_argument("sentences", nargs="+", help="one or more sentences, each in quotes")
    pt.set_defaults(func=cmd_predict_text)

    s = sub.add_parser("summary", help="show a saved model's layers, shapes and parameter counts")
    s.add_argument("model", help="a model file")
    s.set_defaults(func=cmd_summary)

    e = sub.add_parser("export", help="write a saved model as ONNX (needs the onnx extra)")
    e.add_argument("model", help="a model file")
    e.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write")
    e.add_argument(
        "--input-shape",
        type=input_shape,
        help="the input's sizes without the batch, e.g. 28,28,1, if the file lacks them",
    )
    e.set_defaults(func=cmd_export)

    x = sub.add_parser("explain", help="show one training step of a trained model on a CSV file, as an HTML page")
    x.add_argument("model", help="a model file from `neuronet train`")
    x.add_argument("data", help="CSV file with the model's feature columns and its target column")
    x.add_argument("--out", default="step.html", help="the HTML page to write (default step.html)")
    x.add_argument(
        "--rows", type=whole_number(1), default=8, help="the batch: this many first rows of the file (default 8)"
    )
    x.add_argument("--drop-missing", action="store_true", help="leave out rows with a missing value (default: error)")
    _add_delimiter(x)
    x.set_defaults(func=cmd_explain)
    return p
