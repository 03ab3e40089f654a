"""The Sequential model: layers in a row, trained by backpropagation.

Training one mini-batch is four steps, the heart of deep learning:

1. forward:  out = layer_n(... layer_1(x))
2. loss:     L = loss(out, y) + sum of regularisation penalties
3. backward: each layer, last to first, turns dL/d(output) into dL/d(input)
   and adds dL/d(its parameters) into their ``.grad``
4. update:   the optimizer moves every parameter against its gradient
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import backend, checks, fusion, losses, optimizers, parallel
from . import metrics as metrics_lib
from .batching import batch_bounds, batches
from .layers.activations import Activation, sigmoid
from .layers.base import LAYERS, Layer
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .parameter import Parameter, flatten_parameters, shapes_on_file
from .saving import ModelFileError, read_model_file, write_model_file

DIVERGENCE_ADVICE = (
    "Lower the learning rate, scale the inputs (e.g. standardise them), or check the data for extreme values."
)


class Callback:
    """Hook points called by :meth:`Sequential.fit`; override the ones you need."""

    model: Sequential | None = None

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list, one value per epoch."""

    def on_train_begin(self, logs=None):
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class Sequential:
    """A stack of layers, each feeding the next."""

    def __init__(self, layers: list[Layer] | None = None, input_shape: tuple | None = None) -> None:
        self.layers: list[Layer] = []
        self.input_shape = (None, *input_shape) if input_shape is not None else None
        self.loss: losses.Loss | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.metrics: list[tuple[str, callable]] = []
        self._metric_specs: list = []  # as given to compile: the names among them are saved
        self.metadata: dict = {}  # JSON-able extras saved with the model (the CLI keeps its scaling here)
        self.stop_training = False
        self._flat: Parameter | None = None
        self._flat_params: list[Parameter] = []
        self._replicas: parallel.Replicas | None = None  # copies of the layers for threads (see parallel.py)
        self._seen_shape: tuple | None = None  # the shape of the last input, batch as None (for summary)
        for layer in layers or []:
            self.add(layer)

    # -- building -------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer, giving it a unique name (dense, dense_1, ...) as Keras does."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        taken = {existing.name for existing in self.layers}
        base, name, i = layer.default_name, layer.default_name, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        layer.name = name
        self.layers.append(layer)

    def compile(self, loss="categorical_crossentropy", optimizer="adam", metrics=None) -> None:
        """Choose the loss, the optimizer and the metrics reported during training."""
        self.loss = losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise checks.ArgumentError(f"metrics must be a list of names or functions, got {metrics!r}")
        self._metric_specs = list(metrics or [])
        self.metrics = [metrics_lib.get(m) for m in self._metric_specs]  # (the name it is logged under, function)
        regression = isinstance(self.loss, (losses.MeanSquaredError, losses.MeanAbsoluteError))
        wrong = [name for name, _ in self.metrics if regression and metrics_lib.is_classification(name)]
        if wrong:
            raise ValueError(f"{wrong} are classification metrics; a regression model (MSE/MAE loss) has none")

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and every layer state (running statistics, masks), in order."""
        return [a.copy() for a in self._weight_arrays()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Overwrite, in place, what :meth:`get_weights` returned."""
        arrays = self._weight_arrays()
        if len(weights) != len(arrays):
            raise ValueError(f"set_weights expects {len(arrays)} arrays, got {len(weights)}")
        for target, value in zip(arrays, weights):
            if np.shape(value) != target.shape:
                raise ValueError(f"set_weights: shape {np.shape(value)} does not fit an array of shape {target.shape}")
            target[...] = value

    def _weight_arrays(self) -> list[np.ndarray]:
        return [p.data for p in self.parameters()] + [s for layer in self.layers for s in layer.states()]

    def _named_arrays(self) -> dict[str, np.ndarray]:
        """Every saved array under the name "<index>.<layer name>.<attribute>"."""
        return {
            f"{i}.{layer.name}.{attr}": getattr(layer, attr).data if attr in layer.param_names else getattr(layer, attr)
            for i, layer in enumerate(self.layers)
            for attr in (*layer.param_names, *layer.state_names)
        }

    # -- the passes -------------------------------------------------------------
    def forward(self, x, training: bool = False):
        backend.keep_freed_memory()  # each batch reuses the last one's memory (once per process; see backend)
        x = backend.xp.asarray(x)
        self._seen_shape = (None, *x.shape[1:])
        dtype = self._dtype()
        if x.dtype != dtype and x.dtype.kind in "fiub" and not self._takes_ids():
            x = x.astype(dtype)  # lists, float64, ints: compute in the model's float type
        for step in fusion.steps(self.layers):  # layers, a convolution and its pooling as one (fusion.py)
            x = step.forward(x, training)
        return x

    def backward(self, dy, input_grad: bool = True):
        """Backpropagate ``dy`` (dL/d output) through every layer; return dL/d input."""
        return self._backward_from(len(self.layers) - 1, dy, input_grad)

    def _backward_from(self, last: int, dy, input_grad: bool):
        """Backpropagate from layer index ``last`` down to the first layer."""
        if last < 0:
            return dy
        steps = fusion.steps(self.layers[: last + 1])
        for step in steps[:0:-1]:
            dy = step.backward(dy)
        if input_grad:
            return steps[0].backward(dy)
        steps[0].backward_params_only(dy)  # training needs no gradient for the data itself
        return None

    def _fused_activation(self):
        """The last layer, if its activation's backward is absorbed by the loss (softmax + cross-entropy)."""
        if not self.layers or self.loss is None or self.loss.fuses_with is None:
            return None
        if getattr(self.loss, "from_logits", False):
            return None
        last = self.layers[-1]
        act = last if isinstance(last, Activation) else getattr(last, "activation", None)
        if act is not None and act.default_name == self.loss.fuses_with:
            return last
        return None

    def compute_gradients(self, x, y) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a batch: fill every ``.grad``; return (loss, outputs).

        ``y`` must already be in the loss's form (see ``Loss.prepare_targets``).
        Where it pays, the batch is split across threads (``parallel.py``):
        the same gradients, up to the order of float additions.
        """
        n = parallel.parts(len(x), self.layers)
        flat = self._step_parameters() if n > 1 else []  # the parts' gradients are summed into this buffer
        if not flat:  # not split, or no parameters to learn
            return self.compute_gradients_here(x, y)
        if self._replicas is None or not self._replicas.match(self, n, flat[0].grad):
            self._replicas = parallel.Replicas(self, n, flat[0].grad)
        for p in self.parameters():
            p.settle_grad()  # the first part writes its gradients straight into the flat buffer behind these
        loss, out = self._replicas.compute_gradients(x, y)
        self.add_regularization_gradients()  # once for the batch, not once per part
        return loss + self.regularization_loss(), out

    def compute_gradients_here(self, x, y) -> tuple[float, np.ndarray]:
        """:meth:`compute_gradients` in this thread, on the whole batch."""
        loss, out = self.data_gradients(x, y)
        self.add_regularization_gradients()
        return loss + self.regularization_loss(), out

    def data_gradients(self, x, y, share: float = 1.0) -> tuple[float, np.ndarray]:
        """Fill every ``.grad`` with the gradient of the data loss (no regularisation) times ``share``.

        ``share`` < 1 is for one part of a batch split across threads (``parallel.py``): the part's
        fraction of the batch, so that the parts' gradients add up to the batch's. Returns the data
        loss on ``x`` and the outputs.
        """
        out = self.forward(x, training=True)
        loss = self.loss.forward(out, y)
        for p in self.parameters():
            p.zero_grad()
        fused = self._fused_activation()
        dz = self.loss.backward(out, y) if fused is None else self.loss.backward_through_activation(out, y)
        if share != 1.0:
            dz *= share  # in place: a NumPy float64 share must not turn a float32 model's gradients to float64
        if fused is None:
            self.backward(dz, input_grad=False)
        else:
            if isinstance(fused, Activation):  # a separate Softmax/Sigmoid layer: skip it
                self._backward_from(len(self.layers) - 2, dz, input_grad=False)
            else:  # Dense(..., activation="softmax"): go through its linear part only
                dx = fused.backward_linear(dz, input_grad=len(self.layers) > 1)
                self._backward_from(len(self.layers) - 2, dx, input_grad=False)
        for p in self.parameters():
            p.settle_grad()  # the optimizer (or the sum of a split batch's parts) reads the flat buffer
        return loss, out

    def train_step(self, x, y) -> tuple[float, np.ndarray]:
        """One step of gradient descent on a batch; returns (loss, outputs)."""
        loss, out = self.compute_gradients(x, y)
        self.optimizer.step(self._step_parameters())
        return loss, out

    def regularization_loss(self) -> float:
        return sum((p.regularizer.penalty(p.data) for p in self.parameters() if p.regularizer), 0.0)

    def add_regularization_gradients(self) -> None:
        for p in self.parameters():
            if p.regularizer:
                p.regularizer.add_gradient(p.data, p.grad)

    def _step_parameters(self) -> list[Parameter]:
        """All parameters as one flat Parameter, so the optimizer runs a few long vector ops."""
        params = self.parameters()
        same = len(params) == len(self._flat_params) and all(a is b for a, b in zip(params, self._flat_params))
        if not same:  # first step, or layers were added or replaced (pruning)
            self._flat = flatten_parameters(params) if params else None
            self._flat_params = params  # held, so a new parameter can never be mistaken for an old one
        return [self._flat] if self._flat is not None else []

    # -- checking data ------------------------------------------------------------
    def _dtype(self):
        params = self.parameters()
        return params[0].data.dtype if params else backend.get_dtype()

    def _takes_ids(self) -> bool:
        return bool(self.layers) and self.layers[0].takes_ids

    def _check_x(self, x, name="X"):
        if self._takes_ids():  # integer token ids: the Embedding layer checks them
            x = backend.as_array(x, name)
            if x.size == 0:
                raise checks.ArgumentError(f"{name} is empty (shape {x.shape}); give at least one sample")
        else:
            x = backend.as_float(x, name)
            if x.dtype != self._dtype():
                x = x.astype(self._dtype())
        if x.ndim < 1 or (x.ndim < 2 and not self._takes_ids()):
            raise checks.ArgumentError(
                f"{name} must have a batch axis first, e.g. shape (samples, features); got {x.shape}"
            )
        return x

    def _check_xy(self, x, y, name="X", y_name="y"):
        if self.loss is None:
            raise RuntimeError("call model.compile(loss=..., optimizer=...) before fit or evaluate")
        x = self._check_x(x, name)
        if y is None:
            raise checks.ArgumentError(f"{y_name} is None; pass the targets (labels or values) for {name}")
        y = backend.as_array(y, y_name)
        if y.ndim == 0 or len(y) != len(x):
            raise checks.ArgumentError(
                f"{name} has {len(x)} samples but {y_name} has {len(y) if y.ndim else 'a single value'}; "
                "give one target per sample"
            )
        backend.require_finite(y, y_name)
        out = self.forward(x[:1])  # checks every layer's input shape on one sample
        y = self.loss.prepare_targets(y, np.broadcast_to(out, (len(x), *out.shape[1:])))
        return x, y

    # -- training loop -------------------------------------------------------------
    def fit(
        self,
        x,
        y,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: list[Callback] | None = None,
        verbose: int = 1,
    ) -> History:
        """Train for ``epochs`` passes over the data in mini-batches; return the History.

        ``verbose``: 0 silent, 1 a progress bar (on a terminal) and a line per epoch, 2 the lines only.
        If the loss, the weights or the validation loss turn NaN or infinite, training stops after that
        epoch with a warning; the History records the epoch (its loss as it came, the rest NaN). A last
        batch too small for some layer (a single sample, for BatchNormalization) joins the batch before it.
        """
        epochs = checks.integer(epochs, "epochs", low=0)
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        validation_split = checks.number(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
        shuffle = checks.flag(shuffle, "shuffle")
        verbose = _verbosity(verbose)
        callbacks = _callback_list(callbacks)
        _check_pair(validation_data)
        x, y = self._check_xy(x, y)
        if validation_data is None and validation_split:
            cut = int(round(len(x) * (1.0 - validation_split)))
            if cut < 1 or cut >= len(x):
                raise checks.ArgumentError(
                    f"validation_split={validation_split} leaves no training or validation samples of {len(x)}"
                )
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if validation_data is not None:
            validation_data = self._check_xy(*validation_data, name="validation X", y_name="validation y")
        min_batch = max((layer.min_batch for layer in self.layers), default=1)
        if len(x) < min_batch:
            raise checks.ArgumentError(
                f"a training batch needs at least {min_batch} samples here (BatchNormalization normalises over "
                f"the batch), but there are only {len(x)} to train on"
            )

        history = History()
        hooks = [*callbacks, history]  # last, so it records what other callbacks add to the logs
        for cb in hooks:
            cb.set_model(self)
        self.stop_training = False
        for cb in hooks:
            cb.on_train_begin()
        for epoch in range(epochs):
            for cb in hooks:
                cb.on_epoch_begin(epoch)
            desc = f"Epoch {epoch + 1}/{epochs}"
            logs = self._train_epoch(x, y, batch_size, min_batch, shuffle, desc, hooks, verbose)
            diverged = not math.isfinite(logs["loss"])
            if validation_data is not None:
                if diverged:  # nothing to measure with weights gone NaN
                    val = dict.fromkeys(["loss", *(name for name, _ in self.metrics)], math.nan)
                else:
                    val = self._scores(*validation_data, batch_size=max(batch_size, 256), finite=False)
                    if not math.isfinite(val["loss"]):  # weights so large that the outputs overflow
                        diverged = True
                        warnings.warn(
                            f"training stopped: the validation loss became {val['loss']} after {desc.lower()}. "
                            + DIVERGENCE_ADVICE,
                            RuntimeWarning,
                            stacklevel=2,
                        )
                logs.update({f"val_{k}": v for k, v in val.items()})
            if verbose:
                print(f"{desc} - {' - '.join(f'{k}: {v:.4f}' for k, v in logs.items())}", file=sys.stderr)
            for cb in hooks:
                cb.on_epoch_end(epoch, logs)
            if diverged or self.stop_training:
                self.stop_training = True
                break
        for cb in hooks:
            cb.on_train_end()
        return history

    def _train_epoch(self, x, y, batch_size, min_batch, shuffle, desc, hooks, verbose) -> dict:
        """One pass over the data in mini-batches; the epoch's logs (a non-finite loss if it diverged)."""
        bounds = batch_bounds(len(x), batch_size, min_batch)
        total_loss, seen, kept_y, kept_out = 0.0, 0, [], []
        live, scored_at = {}, time.monotonic()
        bar = tqdm(total=len(bounds), desc=desc, unit="batch", disable=verbose != 1 or not interactive(), leave=False)
        for b, (xb, yb) in enumerate(batches(x, y, batch_size, shuffle, min_last=min_batch)):
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported below
                loss, out = self.train_step(xb, yb)
            if not math.isfinite(loss):
                bar.close()
                warnings.warn(
                    f"training stopped: the loss became {loss} in {desc.lower()}, batch {b + 1}. " + DIVERGENCE_ADVICE,
                    RuntimeWarning,
                    stacklevel=3,
                )
                return {"loss": loss, **{name: math.nan for name, _ in self.metrics}}
            total_loss += loss * len(xb)
            seen += len(xb)
            if self.metrics:  # metrics such as F1 are not batch averages: score the whole epoch at its end
                kept_y.append(yb)
                kept_out.append(self._metric_outputs(out))
            for cb in hooks:
                cb.on_batch_end(b, {"loss": loss})
            if not bar.disable and (b % 10 == 0 or b == len(bounds) - 1):
                if self.metrics and time.monotonic() - scored_at > 0.5:  # scoring all so far: not every batch
                    live = self._metric_values(np.concatenate(kept_y), np.concatenate(kept_out))
                    scored_at = time.monotonic()
                bar.set_postfix({"loss": total_loss / seen, **live}, refresh=False)
            bar.update(1)
        bar.close()
        if self._flat is not None and not backend.all_finite(self._flat.data):  # the last step's update overflowed
            warnings.warn(
                f"training stopped: the weights became NaN or infinite in {desc.lower()}. " + DIVERGENCE_ADVICE,
                RuntimeWarning,
                stacklevel=3,
            )
            return {"loss": math.nan, **{name: math.nan for name, _ in self.metrics}}
        logs = {"loss": total_loss / seen}
        if self.metrics:
            logs.update(self._metric_values(np.concatenate(kept_y), np.concatenate(kept_out)))
        return logs

    def _metric_values(self, y, out) -> dict[str, float]:
        return {name: fn(y, out) for name, fn in self.metrics}

    def _metric_outputs(self, out):
        """Probabilities for the metrics: a model trained from logits outputs scores."""
        if isinstance(self.loss, losses.BinaryCrossentropy) and self.loss.from_logits:
            return sigmoid(out)
        return out

    # -- using a trained model ----------------------------------------------------------
    def predict(self, x, batch_size: int = 256):
        """Outputs for ``x``, computed ``batch_size`` samples at a time to bound memory."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        return self._outputs(self._check_x(x), batch_size)

    def _outputs(self, x, batch_size: int, finite: bool = True):
        """:meth:`predict` on checked data; with ``finite``, non-finite outputs are an error."""
        result = None
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, once and clearly
            for lo in range(0, len(x), batch_size):
                out = self.forward(x[lo : lo + batch_size], training=False)
                if result is None:
                    result = np.empty((len(x), *out.shape[1:]), dtype=out.dtype)
                result[lo : lo + len(out)] = out
        if finite and not backend.all_finite(result):
            raise ValueError(
                "the model's outputs hold NaN or infinite values although X is finite: its weights have "
                "diverged (retrain with a lower learning rate) or X holds extreme values (scale it)"
            )
        return result

    def evaluate(self, x, y, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss (with regularisation, as in training) and metrics on ``x``, ``y``."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = self._scores(*self._check_xy(x, y), batch_size)
        if _verbosity(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        return result

    def _scores(self, x, y, batch_size: int, finite: bool = True) -> dict[str, float]:
        """:meth:`evaluate` on checked data."""
        out = self._outputs(x, batch_size, finite)
        result = {"loss": self.loss.forward(out, y) + self.regularization_loss()}
        result.update(self._metric_values(y, self._metric_outputs(out)))
        return result

    # -- description ------------------------------------------------------------------
    def _input_shape(self) -> tuple | None:
        if self.input_shape is not None:
            return self.input_shape
        fixed = self.layers[0].input_shape() if self.layers else None
        return fixed or self._seen_shape

    def summary(self, print_fn=print) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts.

        Shapes follow from ``input_shape=``, from a first layer that fixes its input (Dense), or else from
        the data the model last saw; before any of these, they show as "?".
        """
        rows, shape = [], self._input_shape()
        for layer in self.layers:
            shape = layer.output_shape(shape) if shape is not None else None
            count = sum(p.data.size for p in layer.parameters())
            rows.append((f"{layer.name} ({type(layer).__name__})", "?" if shape is None else str(shape), f"{count:,}"))
        header = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(3)]
        line = "".join(h.ljust(w) for h, w in zip(header, widths))
        rule = "=" * len(line)
        body = ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        total = sum(p.data.size for p in self.parameters())
        text = "\n".join(
            ['Model: "sequential"', rule, line, rule, *body, rule, f"Total params: {total:,}", rule.replace("=", "_")]
        )
        print_fn(text)
        return text

    # -- saving -----------------------------------------------------------------------
    def get_config(self) -> dict:
        shape = self._input_shape()  # saved as known (also from the data seen), so a load can check the layers fit
        config = {
            "input_shape": list(shape[1:]) if shape and None not in shape[1:] else None,
            "layers": [{"class": type(ly).__name__, "name": ly.name, "config": ly.get_config()} for ly in self.layers],
        }
        if self.loss is not None:
            config["loss"] = {"class": type(self.loss).__name__, "config": self.loss.get_config()}
            config["optimizer"] = {"class": type(self.optimizer).__name__, "config": self.optimizer.get_config()}
            config["metrics"] = [m for m in self._metric_specs if isinstance(m, str)]
        return config

    def save(self, path) -> None:
        """Save architecture, weights, compile settings and metadata (not optimizer state) to ``path``.

        Metrics given as functions are not saved (a file holds no code): a loaded model reports the
        named ones only. Weights that are NaN or infinite are refused: such a model predicts nothing.
        """
        arrays = self._named_arrays()
        diverged = [key for key, array in arrays.items() if not backend.all_finite(array)]
        if diverged:
            raise ValueError(
                f"not saved to {os.fspath(path)}: {', '.join(diverged[:3])} hold NaN or infinite values "
                "(training diverged); retrain with a lower learning rate"
            )
        write_model_file(path, {"model": self.get_config(), "metadata": self.metadata}, arrays)


def load_model(path) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (arrays take the current dtype).

    A damaged, foreign or hostile file raises ModelFileError, before any layer allocates more than the
    file's tensors hold (see ``parameter.shapes_on_file``).
    """
    description, tensors = read_model_file(path)
    try:
        model = _build(description, {key: tensor.shape for key, tensor in tensors.items()})
    except _DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{os.fspath(path)!r} has a model description this neuronet cannot build: {exc}") from None
    expected = model._named_arrays()
    if set(expected) != set(tensors):
        raise ModelFileError(
            f"{os.fspath(path)!r}: weights do not match the architecture "
            f"(missing {sorted(set(expected) - set(tensors))}, unexpected {sorted(set(tensors) - set(expected))})"
        )
    for key, target in expected.items():
        if tensors[key].shape != target.shape:  # each layer declared its shapes; this catches one that did not
            raise ModelFileError(
                f"{os.fspath(path)!r}: weight {key} has shape {tensors[key].shape}, expected {target.shape}"
            )
        target[...] = tensors[key]
    _check_layers_fit(model, os.fspath(path))
    return model


def _check_layers_fit(model: Sequential, path: str) -> None:
    """One sample of the saved input shape through every layer, so that layers whose shapes do not chain
    are a ModelFileError now rather than an error at the first predict."""
    shape = model._input_shape()
    if not shape or None in shape[1:]:
        return
    sample = np.zeros((1, *shape[1:]), dtype=np.int64 if model._takes_ids() else model._dtype())
    try:
        with np.errstate(all="ignore"):
            model.forward(sample)
    except _DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{path!r}: its layers do not fit together: {exc}") from None


# what building from a description can raise: a bad value or type, a missing key, an absurd number
_DESCRIPTION_ERRORS = (KeyError, TypeError, ValueError, OverflowError, RecursionError, AttributeError)


def _field(spec, key: str, kind: type, where: str):
    """``spec[key]``, which must be of ``kind`` (a JSON object, list or string)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(spec).__name__}")
    value = spec.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{where}: {key!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _from_spec(registry: dict, spec, where: str):
    """An instance of the class ``spec["class"]`` from ``registry``, built with ``spec["config"]``."""
    name = _field(spec, "class", str, where)
    if name not in registry:
        raise ValueError(f"{where}: unknown class {name!r}")
    return registry[name](**_field(spec, "config", dict, where))


def _build(description, shapes: dict[str, tuple]) -> Sequential:
    """The model a file's description describes, each layer checked against the file's tensor ``shapes``."""
    config = _field(description, "model", dict, "the description")
    input_shape = config.get("input_shape")
    if input_shape is not None:
        if not isinstance(input_shape, list):
            raise ValueError(f"input_shape must be a list of sizes, got {input_shape!r}")
        input_shape = tuple(checks.integer(d, "a size in input_shape", low=1) for d in input_shape)
    model = Sequential(input_shape=input_shape)
    for i, spec in enumerate(_field(config, "layers", list, "the model")):
        name = _field(spec, "name", str, f"layer {i}")
        prefix = f"{i}.{name}."
        on_file = {key[len(prefix) :]: shape for key, shape in shapes.items() if key.startswith(prefix)}
        try:
            with shapes_on_file(on_file):
                layer = _from_spec(LAYERS, spec, f"layer {i}")
        except _DESCRIPTION_ERRORS as exc:
            raise ValueError(f"layer {i} ({spec.get('class')!r}, {name!r}): {exc}") from None
        model.add(layer)
        layer.name = name
    if "loss" in config:
        metrics = _field(config, "metrics", list, "the model")
        model.compile(
            loss=_from_spec(LOSSES, config["loss"], "the loss"),
            optimizer=_from_spec(OPTIMIZERS, config["optimizer"], "the optimizer"),
            metrics=[checks.text(m, "a metric name") for m in metrics],
        )
    metadata = description.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"the metadata must be a JSON object, got {type(metadata).__name__}")
    model.metadata = metadata
    return model


def _check_pair(validation_data) -> None:
    """validation_data is None or a pair (X_val, y_val)."""
    if validation_data is None or (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        return
    got = f"a {type(validation_data).__name__}"
    if isinstance(validation_data, (tuple, list)):
        got += f" of {len(validation_data)}"
    raise checks.ArgumentError(f"validation_data must be a pair (X_val, y_val), got {got}")


def _verbosity(verbose) -> int:
    """``verbose`` as 0, 1 or 2 (True and False count as 1 and 0)."""
    return checks.integer(int(verbose) if isinstance(verbose, bool) else verbose, "verbose", low=0, high=2)


def _callback_list(callbacks) -> list[Callback]:
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(cb, Callback) for cb in callbacks):
        raise checks.ArgumentError(f"callbacks must be a list of Callback objects, got {callbacks!r}")
    return list(callbacks)


def interactive() -> bool:
    """Whether progress bars can redraw: standard error is a terminal, or a notebook shows the output."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules
