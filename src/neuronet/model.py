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
import sys
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import backend, fusion, losses, optimizers, parallel
from . import metrics as metrics_lib
from .batching import batches
from .layers.activations import Activation, sigmoid
from .layers.base import LAYERS, Layer
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .parameter import Parameter, flatten_parameters
from .saving import ModelFileError, read_model_file, write_model_file


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
        self.metadata: dict = {}  # JSON-able extras saved with the model (the CLI keeps its scaling here)
        self.stop_training = False
        self._flat: Parameter | None = None
        self._flat_params: list[Parameter] = []
        self._replicas: parallel.Replicas | None = None  # copies of the layers for threads (see parallel.py)
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
        self.metrics = [metrics_lib.get(m) for m in (metrics or [])]
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

    def _check_x(self, x, name="X", check_finite=True):
        if self._takes_ids():  # integer token ids: the Embedding layer checks their range
            x = np.asarray(x)
            if x.size == 0:
                raise ValueError(f"{name} is empty (shape {x.shape}); give at least one sample")
            return x
        x = backend.as_float(x, name, check_finite)
        if x.dtype != self._dtype():
            x = x.astype(self._dtype())
        if x.ndim < 2:
            raise ValueError(f"{name} must have a batch axis first, e.g. shape (samples, features); got {x.shape}")
        return x

    def _check_xy(self, x, y, name="X"):
        if self.loss is None:
            raise RuntimeError("call model.compile(loss=..., optimizer=...) before fit or evaluate")
        x = self._check_x(x, name)
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"{name} has {len(x)} samples but its targets have {len(y)}; they must match")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("targets contain NaN or infinite values; clean them before training")
        if y.dtype.kind not in "fiub":
            raise ValueError(f"targets must be numeric, got dtype {y.dtype}")
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
        """Train for ``epochs`` passes over the data in mini-batches; return the History."""
        if epochs < 0 or batch_size < 1:
            raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got {epochs} and {batch_size}")
        x, y = self._check_xy(x, y)
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
            cut = int(round(len(x) * (1.0 - validation_split)))
            if cut < 1 or cut >= len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or validation samples")
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if validation_data is not None:
            validation_data = self._check_xy(*validation_data, name="validation X")

        history = History()
        hooks = [*(callbacks or []), history]  # last, so it records what other callbacks add to the logs
        for cb in hooks:
            cb.set_model(self)
        self.stop_training = False
        for cb in hooks:
            cb.on_train_begin()
        for epoch in range(epochs):
            for cb in hooks:
                cb.on_epoch_begin(epoch)
            desc = f"Epoch {epoch + 1}/{epochs}"
            logs = self._train_epoch(x, y, batch_size, shuffle, desc, hooks, verbose)
            if logs is None:  # the loss diverged: fit stops here
                break
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=max(batch_size, 256))
                logs.update({f"val_{k}": v for k, v in val.items()})
            if verbose:
                print(f"{desc} - {' - '.join(f'{k}: {v:.4f}' for k, v in logs.items())}", file=sys.stderr)
            for cb in hooks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in hooks:
            cb.on_train_end()
        return history

    def _train_epoch(self, x, y, batch_size, shuffle, desc, hooks, verbose) -> dict | None:
        """One pass over the data in mini-batches; the epoch's logs, or None if the loss diverged."""
        n_batches = math.ceil(len(x) / batch_size)
        total_loss, seen, kept_y, kept_out = 0.0, 0, [], []
        live, scored_at = {}, time.monotonic()
        bar = tqdm(total=n_batches, desc=desc, unit="batch", disable=not verbose, leave=False)
        for b, (xb, yb) in enumerate(batches(x, y, batch_size, shuffle)):
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported below
                loss, out = self.train_step(xb, yb)
            if not math.isfinite(loss):
                bar.close()
                warnings.warn(
                    f"training stopped: the loss became {loss} in {desc.lower()}, batch {b + 1}. "
                    "Lower the learning rate, scale the inputs (e.g. standardise them), "
                    "or check the data for extreme values.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.stop_training = True
                return None
            total_loss += loss * len(xb)
            seen += len(xb)
            if self.metrics:  # metrics such as F1 are not batch averages: score the whole epoch at its end
                kept_y.append(yb)
                kept_out.append(self._metric_outputs(out))
            for cb in hooks:
                cb.on_batch_end(b, {"loss": loss})
            if verbose and (b % 10 == 0 or b == n_batches - 1):
                if self.metrics and time.monotonic() - scored_at > 0.5:  # scoring all so far: not every batch
                    live = self._metric_values(np.concatenate(kept_y), np.concatenate(kept_out))
                    scored_at = time.monotonic()
                bar.set_postfix({"loss": total_loss / seen, **live}, refresh=False)
            bar.update(1)
        bar.close()
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
        x = self._check_x(x, check_finite=False)  # NaN/inf inputs show in the outputs: check those, far fewer
        result = None
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, once and clearly
            for lo in range(0, len(x), batch_size):
                out = self.forward(x[lo : lo + batch_size], training=False)
                if result is None:
                    result = np.empty((len(x), *out.shape[1:]), dtype=out.dtype)
                result[lo : lo + len(out)] = out
        if not np.isfinite(result).all():
            backend.require_finite(x, "X")
            raise ValueError(
                "the model's outputs hold NaN or infinite values although X is finite: its weights have "
                "diverged (retrain with a lower learning rate) or X holds extreme values (scale it)"
            )
        return result

    def evaluate(self, x, y, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss (with regularisation, as in training) and metrics on ``x``, ``y``."""
        x, y = self._check_xy(x, y)
        out = self.predict(x, batch_size=batch_size)
        result = {"loss": self.loss.forward(out, y) + self.regularization_loss()}
        result.update(self._metric_values(y, self._metric_outputs(out)))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        return result

    # -- description ------------------------------------------------------------------
    def _input_shape(self) -> tuple | None:
        if self.input_shape is not None:
            return self.input_shape
        return self.layers[0].input_shape() if self.layers else None

    def summary(self, print_fn=print) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts."""
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
        config = {
            "input_shape": list(self.input_shape[1:]) if self.input_shape else None,
            "layers": [{"class": type(ly).__name__, "name": ly.name, "config": ly.get_config()} for ly in self.layers],
        }
        if self.loss is not None:
            config["loss"] = {"class": type(self.loss).__name__, "config": self.loss.get_config()}
            config["optimizer"] = {"class": type(self.optimizer).__name__, "config": self.optimizer.get_config()}
            config["metrics"] = [name for name, _ in self.metrics]
        return config

    def save(self, path) -> None:
        """Save architecture, weights, compile settings and metadata (not optimizer state) to ``path``."""
        write_model_file(path, {"model": self.get_config(), "metadata": self.metadata}, self._named_arrays())


def load_model(path) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (arrays take the current dtype).

    A corrupt or foreign file raises ModelFileError.
    """
    description, tensors = read_model_file(path)
    try:
        config = description["model"]
        input_shape = config.get("input_shape")
        model = Sequential(input_shape=tuple(input_shape) if input_shape else None)
        for spec in config["layers"]:
            if spec["class"] not in LAYERS:
                raise ModelFileError(f"{path!r} uses an unknown layer type {spec['class']!r}")
            layer = LAYERS[spec["class"]](**spec["config"])
            model.add(layer)
            layer.name = spec["name"]
        if "loss" in config:
            model.compile(
                loss=LOSSES[config["loss"]["class"]](**config["loss"]["config"]),
                optimizer=OPTIMIZERS[config["optimizer"]["class"]](**config["optimizer"]["config"]),
                metrics=config["metrics"],
            )
        model.metadata = description.get("metadata", {})
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path!r} has a model description this neuronet cannot build: {exc!r}") from None
    expected = model._named_arrays()
    if set(expected) != set(tensors):
        raise ModelFileError(
            f"{path!r}: weights do not match the architecture "
            f"(missing {sorted(set(expected) - set(tensors))}, unexpected {sorted(set(tensors) - set(expected))})"
        )
    for key, target in expected.items():
        if tensors[key].shape != target.shape:
            raise ModelFileError(f"{path!r}: weight {key} has shape {tensors[key].shape}, expected {target.shape}")
        target[...] = tensors[key]
    return model
