"""The Sequential model: layers in a row, trained by backpropagation.

Training one mini-batch is four steps, the heart of deep learning
(:meth:`Sequential.train_step`):

1. forward:  out = layer_n(... layer_1(x))
2. loss:     L = loss(out, y) + sum of regularisation penalties
3. backward: each layer, last to first, turns dL/d(output) into dL/d(input)
   and adds dL/d(its parameters) into their ``.grad``
4. update:   the optimizer moves every parameter against its gradient

The loop around it, epochs of mini-batches with validation and callbacks,
is ``training.py``. The model owns an ops (``ops.py``) that its layers
compute with, and a plan of its layers decided once until they change: the
steps its passes run (a convolution and its pooling fused on a CPU) and
whether the loss absorbs the last activation's backward pass (softmax with
cross-entropy).

A sequence's padding travels as a mask beside the data: a layer makes it
(Embedding, from its padding id), layers that keep the steps apart hand it
on, and a layer that takes one (a recurrent layer) gets it as ``mask=``
(``Layer.output_mask``).

Each layer keeps what its backward pass needs from its last forward pass
only (a one-slot cache, as the book's layers do), so ``model.backward`` must
follow the forward pass it differentiates: a second forward pass in between
is an error, not the other batch's gradient.
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np

from . import backend, checks, fusion, losses, optimizers, parallel, process, training
from . import metrics as metrics_lib
from .callbacks import Callback, History
from .layers.activations import Activation, sigmoid
from .layers.base import Layer, deserialize, serialize
from .losses import LOSSES
from .ops import for_device
from .optimizers import OPTIMIZERS
from .parameter import Parameter, flatten_parameters, shapes_on_file
from .saving import ModelFileError, model_path, read_model_file, write_model_file


class Sequential:
    """A stack of layers, each feeding the next."""

    def __init__(self, layers: list[Layer] | None = None, input_shape: tuple | None = None) -> None:
        """``input_shape``: one sample's shape (no batch axis), checked against the layers when both are given;
        None on an axis leaves it free (a sequence's length)."""
        self.layers: list[Layer] = []
        self.input_shape = None if input_shape is None else (None, *sample_shape(input_shape))
        self.ops = backend.get_ops().spawn()  # the model's own: its generator is drawn from nn.set_seed's
        self.loss: losses.Loss | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.metrics: list[tuple[str, callable]] = []
        self._metric_specs: list = []  # as given to compile: the names among them are saved
        self.metadata: dict = {}  # JSON-able extras saved with the model (the CLI keeps its scaling here)
        self.stop_training = False
        self._flat: Parameter | None = None
        self._flat_paths: dict[str, tuple[Parameter, slice]] = {}  # what the flat buffer holds, by path
        self._plan_key: tuple | None = None  # the layers (by identity) the plan below was made for
        self._steps: list = []
        self._masked = False  # does a step take a mask (a recurrent layer)? Then the passes hand masks on
        self._head: Layer | None = None
        self._training_passes = 0  # training forward passes since the last backward (see the module's docstring)
        self._metric_batches: list = []
        self._seen_shape: tuple | None = None  # the shape of the last input, batch as None (for summary)
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise checks.ArgumentError(f"Sequential takes a list of layers, got {type(layers).__name__}")
        for layer in layers or []:
            self._append(layer)
        if self.layers:
            self._check_input_shape()

    # -- building -------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer, giving it a unique name (dense, dense_1, ...) as Keras does; with ``input_shape``
        known, a layer that does not fit the ones before it is refused (and not added)."""
        self._append(layer)
        try:
            self._check_input_shape()
        except checks.ArgumentError:
            self.layers.pop()
            raise

    def _append(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        taken = {existing.name for existing in self.layers}
        base, name, i = layer.default_name, layer.default_name, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        layer.name = name
        layer.use_ops(self.ops)  # it computes with the model's ops from now on
        self.layers.append(layer)

    def _check_input_shape(self) -> None:
        """``input_shape``, where given, fits the layers: else a model file it saved would not load."""
        if self.input_shape is None:
            return
        try:
            check_layers_fit(self)
        except DESCRIPTION_ERRORS as exc:
            shape = tuple(self.input_shape[1:])
            raise checks.ArgumentError(f"input_shape {shape} does not fit the layers: {exc}") from None

    def compile(self, loss="categorical_crossentropy", optimizer="adam", metrics=None) -> None:
        """Choose the loss, the optimizer and the metrics reported during training. A setting refused (with
        the reason) leaves the model as it was."""
        loss, optimizer = losses.get(loss), optimizers.get(optimizer)
        if self.layers:
            loss.check_last_layer(self.layers[-1])  # raw scores into a loss of probabilities
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise checks.ArgumentError(f"metrics must be a list of names or functions, got {metrics!r}")
        chosen = [metrics_lib.get(m) for m in metrics or []]  # (the name it is logged under, function)
        regression = isinstance(loss, (losses.MeanSquaredError, losses.MeanAbsoluteError))
        wrong = [name for name, _ in chosen if regression and metrics_lib.is_classification(name)]
        if wrong:
            raise ValueError(f"{wrong} are classification metrics; a regression model (MSE/MAE loss) has none")
        self.loss, self.optimizer, self._metric_specs, self.metrics = loss, optimizer, list(metrics or []), chosen
        self._plan_key = None  # the loss decides the head

    def _plan(self) -> list:
        """The steps the passes run, made once for the current layers (and again only when they change)."""
        key = (tuple(map(id, self.layers)), id(self.loss))
        if key != self._plan_key:
            for layer in self.layers:
                if layer.ops is not self.ops:  # put in place of another (pruning) rather than added
                    layer.use_ops(self.ops)
            steps = fusion.plan(self.layers) if self.ops.tuned_for_cpu else list(self.layers)
            self._steps, self._head, self._plan_key = steps, self._find_head(), key
            self._masked = any(step.takes_mask for step in self._steps)
        return self._steps

    def _find_head(self) -> Layer | None:
        """The last layer, if the loss absorbs its activation's backward pass (softmax + cross-entropy)."""
        if not self.layers or self.loss is None or self.loss.fuses_with is None:
            return None
        if getattr(self.loss, "from_logits", False):
            return None
        last = self.layers[-1]
        act = last if isinstance(last, Activation) else getattr(last, "activation", None)
        return last if act is not None and act.default_name == self.loss.fuses_with else None

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def get_weights(self) -> list[np.ndarray]:
        """NumPy copies of every parameter and every layer state (running statistics, masks), in order."""
        return [np.array(self.ops.to_numpy(a), copy=True) for a in self._weight_arrays()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Overwrite, in place, what :meth:`get_weights` returned."""
        arrays = self._weight_arrays()
        if len(weights) != len(arrays):
            raise ValueError(f"set_weights expects {len(arrays)} arrays, got {len(weights)}")
        for target, value in zip(arrays, weights):
            if np.shape(value) != target.shape:
                raise ValueError(f"set_weights: shape {np.shape(value)} does not fit an array of shape {target.shape}")
            target[...] = value

    def _weight_arrays(self) -> list:
        return [p.data for p in self.parameters()] + [s for layer in self.layers for s in layer.states()]

    def named_arrays(self) -> dict:
        """Every saved array under the name "<index>.<layer name>.<path in the layer>"."""
        return {
            f"{i}.{layer.name}.{path}": array
            for i, layer in enumerate(self.layers)
            for path, array in layer.named_arrays().items()
        }

    # -- devices ---------------------------------------------------------------
    @property
    def device(self) -> str:
        """Where the model's arrays live: "cpu" or "gpu"."""
        return self.ops.device

    def to(self, device) -> Sequential:
        """Move every parameter, gradient, layer state and optimizer state to ``device`` ("gpu": CuPy on an
        NVIDIA GPU; "cpu": NumPy) and compute there from now on; returns the model. The random stream
        (shuffling, dropout) goes on where it was, though a GPU draws its numbers differently."""
        ops = for_device(device, like=self.ops)
        if ops.device == self.ops.device and type(ops) is type(self.ops):
            return self
        flat = self._flat
        if flat is not None:  # one buffer on the device, the parameters views into it as before
            flat.move(ops)
            for p, part in self._flat_paths.values():
                p.data, p.grad = flat.data[part].reshape(p.data.shape), flat.grad[part].reshape(p.data.shape)
            if self.optimizer is not None:
                self.optimizer.move_state(flat, ops)
        self.ops = ops
        for layer in self.layers:
            layer.use_ops(ops)
        self._plan_key = None  # the plan is the ops's (NumpyOps fuses some layers)
        return self

    # -- the passes -------------------------------------------------------------
    def forward(self, x, training: bool = False):
        """The outputs for a batch ``x``; the layers keep what a backward pass needs."""
        self._training_passes += bool(training)
        return self.call(x, training)

    def call(self, x, training: bool = False):
        """The outputs for ``x``, as :meth:`forward` without counting the pass: for a pass no backward pass
        follows (scoring, a GAN's generated batch)."""
        self.ops.prepare()
        x = self.ops.asarray(x)
        self._seen_shape = (None, *x.shape[1:])
        dtype = self.dtype
        if x.dtype != dtype and x.dtype.kind in "fiub" and not self.takes_ids:
            x = x.astype(dtype)  # lists, float64, ints: compute in the model's float type
        steps = self._plan()
        if not self._masked:
            for step in steps:
                x = step.forward(x, training)
            return x
        mask = None  # which steps of a sequence are real (see Layer.output_mask): Embedding makes it
        for step in steps:
            x = (
                step.forward(x, training, mask=mask)
                if step.takes_mask and mask is not None
                else step.forward(x, training)
            )
            mask = step.output_mask(mask)
        return x

    def backward(self, dy, input_grad: bool = True):
        """Backpropagate ``dy`` (dL/d output) through every layer; return dL/d input.

        It differentiates the last forward pass: after two training passes (``training=True``) without a
        backward pass between them, it is an error rather than the second batch's gradient.
        """
        if self._training_passes > 1:
            passes, self._training_passes = self._training_passes, 0
            raise RuntimeError(
                f"model.backward after {passes} training forward passes: each layer keeps only its last "
                "pass's inputs, so this could only be the last batch's gradient. Call backward after each "
                "forward: forward(a, training=True), backward(da), forward(b, training=True), backward(db)"
            )
        self._training_passes = 0
        return _backward(self._plan(), dy, input_grad)

    def compute_gradients(self, x, y) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a batch: fill every ``.grad``; return (loss, outputs).

        ``y`` must already be in the loss's form (see ``Loss.prepare_targets``). The ops decides how:
        on a CPU, a batch may be split across threads (``parallel.py``): the same gradients, up to the
        order of float additions.
        """
        if self.ops.tuned_for_cpu:
            return parallel.gradients(self, x, y)
        return self.compute_gradients_here(x, y)

    def compute_gradients_here(self, x, y) -> tuple[float, np.ndarray]:
        """:meth:`compute_gradients` in this thread, on the whole batch."""
        loss, out = self.data_gradients(x, y)
        return loss + self.add_regularization_gradients(), out

    def data_gradients(self, x, y, share: float = 1.0) -> tuple[float, np.ndarray]:
        """Fill every ``.grad`` with the gradient of the data loss (no regularisation) times ``share``.

        ``share`` < 1 is for one part of a batch split across threads (``parallel.py``): the part's
        fraction of the batch, so that the parts' gradients add up to the batch's. Returns the data
        loss on ``x`` and the outputs.
        """
        out = self.call(x, training=True)
        y = self.ops.asarray(y)  # (the batch's targets come from the host with it)
        loss = self._loss_of(out, y)
        params = self.parameters()
        for p in params:
            p.zero_grad()
        steps, head = self._steps, self._head
        # with a head, the loss's gradient with respect to the scores before the activation
        dz = self.loss.backward(out, y) if head is None else self.loss.backward_through_activation(out, y)
        if share != 1.0:
            dz *= share  # in place: a NumPy float64 share must not turn a float32 model's gradients to float64
        if head is not None:
            steps = steps[:-1]  # a separate Softmax/Sigmoid layer is skipped; Dense(softmax) runs its linear part
            if not isinstance(head, Activation):
                dz = head.backward_linear(dz, input_grad=bool(steps))
        _backward(steps, dz, input_grad=False)
        for p in params:
            p.settle_grad()  # the optimizer (or the sum of a split batch's parts) reads the flat buffer
        return loss, out

    def train_step(self, x, y) -> dict[str, float]:
        """One step of gradient descent on a batch (the four steps above); returns the batch's logs.

        A model that trains differently overrides this (a GAN); the loop in ``training.py`` only needs
        the logs back, and the batch recorded for the metrics (:meth:`record`).
        """
        loss, out = self.compute_gradients(x, y)
        self.apply_gradients()
        self.record(y, out)
        return {"loss": loss}

    def apply_gradients(self) -> None:
        """The optimizer's step on every parameter, then each parameter's constraint (SparseDense's mask)."""
        flat = self.flat_parameter()
        if flat is None:
            return
        self.optimizer.step([flat], self.ops)
        for p, _ in self._flat_paths.values():
            if p.constraint is not None:
                p.constraint(p.data)

    def test_step(self, x, y) -> dict[str, float]:
        """The loss (with regularisation, as in training) on a batch, recorded for the metrics too."""
        out = self.call(x, training=False)
        y = self.ops.asarray(y)
        self.record(y, out)
        return {"loss": self._loss_of(out, y) + self.regularization_loss()}

    def _loss_of(self, out, y) -> float:
        """The data loss of the outputs ``out``: checked by the loss (probabilities where it needs them),
        unless the loss absorbs the last activation, whose outputs are what it takes by construction."""
        return self.loss.value(out, y) if self._head is not None else self.loss.forward(out, y)

    def regularization_loss(self) -> float:
        return sum((p.regularizer.penalty(p.data) for p in self.parameters() if p.regularizer), 0.0)

    def add_regularization_gradients(self) -> float:
        """Add each penalty's gradient to its parameter's; return the penalties' sum (for the loss)."""
        total = 0.0
        for p in self.parameters():
            if p.regularizer:
                p.regularizer.add_gradient(p.data, p.grad)
                total += p.regularizer.penalty(p.data)
        return total

    def finite(self) -> bool:
        """Whether every learned value is finite (after a step that diverged, some are not)."""
        flat = self.flat_parameter()
        return flat is None or backend.all_finite(flat.data)

    def flat_parameter(self) -> Parameter | None:
        """All parameters as one flat Parameter, so the optimizer runs a few long vector ops (None if
        there are none). When the layers change, the optimizer's state of the parameters kept is carried
        over to the new buffer (``Optimizer.carry_state``)."""
        current = self.parameters()
        same = len(current) == len(self._flat_paths) and all(
            p is was for p, (was, _) in zip(current, self._flat_paths.values())
        )
        if not same:  # first step, or layers were added or replaced (pruning)
            params = {
                f"{i}.{layer.name}.{path}": p
                for i, layer in enumerate(self.layers)
                for path, p in layer.named_parameters().items()
            }
            old, old_paths = self._flat, self._flat_paths
            self._flat = flatten_parameters(list(params.values()), self.ops) if params else None
            self._flat_paths, offset = {}, 0
            for path, p in params.items():
                self._flat_paths[path] = (p, slice(offset, offset + p.data.size))
                offset += p.data.size
            if old is not None and self._flat is not None and self.optimizer is not None:  # (by path)
                pieces = [
                    (old_paths[path][1], now)
                    for path, (p, now) in self._flat_paths.items()
                    if path in old_paths and old_paths[path][0].data.shape == p.data.shape
                ]
                self.optimizer.carry_state(old, self._flat, pieces)
        return self._flat

    # -- metrics over an epoch ---------------------------------------------------------
    def reset_metrics(self) -> None:
        self._metric_batches = []

    def record(self, y, out) -> None:
        """Keep a batch's targets and outputs for :meth:`metric_results` (metrics such as F1 are no batch means)."""
        if self.metrics:
            self._metric_batches.append((y, self._metric_outputs(out)))

    def metric_results(self) -> dict[str, float]:
        """Each metric over every batch recorded since :meth:`reset_metrics`."""
        if not self.metrics or not self._metric_batches:
            return {name: float("nan") for name, _ in self.metrics} if self.metrics else {}
        y = np.concatenate([self.ops.to_numpy(t) for t, _ in self._metric_batches])
        out = np.concatenate([self.ops.to_numpy(o) for _, o in self._metric_batches])
        if not backend.all_finite(out):  # diverged: the loop says so; a metric would refuse the NaN outputs
            return {name: float("nan") for name, _ in self.metrics}
        return {name: fn(y, out) for name, fn in self.metrics}

    def _metric_outputs(self, out):
        """Probabilities for the metrics: a model trained from logits outputs scores."""
        if isinstance(self.loss, losses.BinaryCrossentropy) and self.loss.from_logits:
            return sigmoid(out)
        return out

    # -- checking data ------------------------------------------------------------
    @property
    def dtype(self):
        """The float type the model computes in: its parameters'."""
        if self._flat is not None:  # (once trained: no walk over the layers on every forward pass)
            return self._flat.data.dtype
        params = self.parameters()
        return params[0].data.dtype if params else self.ops.dtype

    @property
    def takes_ids(self) -> bool:
        """Whether the model's input is integer token ids (an Embedding first)."""
        return bool(self.layers) and self.layers[0].takes_ids

    def min_batch(self) -> int:
        """The fewest samples a training batch may hold (BatchNormalization needs two)."""
        return max((layer.min_batch for layer in self.layers), default=1)

    def check_x(self, x, name="X"):
        """``x`` checked (see ``backend.as_float``), in the model's float type: a NumPy array, which the passes
        move to the model's device one batch at a time."""
        if self.takes_ids:  # integer token ids: the Embedding layer checks them
            x = backend.as_array(x, name)
            if x.size == 0:
                raise checks.ArgumentError(f"{name} is empty (shape {x.shape}); give at least one sample")
        else:
            x = backend.as_float(x, name)
            if x.dtype != self.dtype:
                x = x.astype(self.dtype)
        if x.ndim < 1 or (x.ndim < 2 and not self.takes_ids):
            raise checks.ArgumentError(
                f"{name} must have a batch axis first, e.g. shape (samples, features); got {x.shape}"
            )
        return x

    def check_data(self, x, y, name="X", y_name="y"):
        """``x`` and its targets checked and in the loss's form (``Loss.prepare_targets``), on the host."""
        if self.loss is None:
            raise RuntimeError("call model.compile(loss=..., optimizer=...) before fit or evaluate")
        x = self.check_x(x, name)
        if y is None:
            raise checks.ArgumentError(f"{y_name} is None; pass the targets (labels or values) for {name}")
        y = backend.as_array(y, y_name)
        if y.ndim == 0 or len(y) != len(x):
            raise checks.ArgumentError(
                f"{name} has {len(x)} samples but {y_name} has {len(y) if y.ndim else 'a single value'}; "
                "give one target per sample"
            )
        backend.require_finite(y, y_name)
        try:
            out = self.ops.to_numpy(self.call(x[:1], training=False))  # checks every layer's input shape
        except ValueError as exc:  # (it names the one sample's shape: say the data's)
            raise ValueError(f"{name} of shape {x.shape} does not fit the model (its first sample: {exc})") from None
        y = self.loss.prepare_targets(y, np.broadcast_to(out, (len(x), *out.shape[1:])))
        return x, y

    # -- training and using the model (training.py) ---------------------------------------
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
        distributed: bool = False,
    ) -> History:
        """Train for ``epochs`` passes over the data in mini-batches; return the History (``training.fit``;
        ``distributed=True`` under mpiexec: data-parallel over the ranks, ``distributed.py``)."""
        return training.fit(
            self, x, y, epochs, batch_size, validation_data, validation_split, shuffle, callbacks, verbose, distributed
        )

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``x`` as a NumPy array, computed ``batch_size`` samples at a time to bound memory."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = training.predict(self, self.check_x(x), batch_size)
        if not backend.all_finite(result):
            raise ValueError(DIVERGED_OUTPUTS)
        return result

    def evaluate(self, x, y, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss (with regularisation, as in training) and metrics on ``x``, ``y``."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = training.scores(self, *self.check_data(x, y), batch_size)
        if not np.isfinite(result["loss"]):
            raise ValueError(DIVERGED_OUTPUTS)
        if checks.verbosity(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        return result

    # -- description ------------------------------------------------------------------
    def known_input_shape(self) -> tuple | None:
        """The input's shape, batch as None, as far as it is known (given, fixed by the first layer, or seen)."""
        if self.input_shape is not None:
            return self.input_shape
        fixed = self.layers[0].input_shape() if self.layers else None
        if fixed and None not in fixed[1:]:
            return fixed
        return self._seen_shape or fixed  # (a recurrent layer fixes the features, not the time steps)

    def summary(self, print_fn=print) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts.

        Shapes follow from ``input_shape=``, from a first layer that fixes its input (Dense), or else from
        the data the model last saw; before any of these, they show as "?".
        """
        rows, shape = [], self.known_input_shape()
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
        shape = self.known_input_shape()  # saved as known (also from the data seen), so a load can check the layers fit
        config = {
            "input_shape": list(shape[1:]) if shape and None not in shape[1:] else None,
            "layers": [serialize(layer) for layer in self.layers],
        }
        if self.loss is not None:
            config["loss"], config["optimizer"] = spec(self.loss), spec(self.optimizer)
            config["metrics"] = [m for m in self._metric_specs if isinstance(m, str)]
        return config

    def save(self, path) -> None:
        """Save architecture, weights, compile settings and metadata (not optimizer state) to ``path``.

        Metrics given as functions are not saved (a file holds no code): a loaded model reports the
        named ones only. Weights that are NaN or infinite are refused: such a model predicts nothing.
        Under mpiexec only rank 0 writes (every rank holds the same model). ``path`` may be a str, bytes or
        os.PathLike; a name for another program's format (``model.onnx``, ``model.keras``) is refused.
        """
        path = model_path(path)  # on every rank, so that all refuse alike
        if process.is_writer():
            write_model_file(path, self.description(), self.arrays_to_save(path))

    def description(self) -> dict:
        """What a model file says of the model besides its weights: architecture, compile settings, metadata."""
        return {"model": self.get_config(), "metadata": self.metadata}

    def arrays_to_save(self, path) -> dict[str, np.ndarray]:
        """The weights as NumPy arrays by their saved names; NaN or infinite ones refuse the save to ``path``."""
        arrays = {key: self.ops.to_numpy(array) for key, array in self.named_arrays().items()}
        diverged = [key for key, array in arrays.items() if not backend.all_finite(array)]
        if diverged:
            raise ValueError(
                f"not saved to {os.fspath(path)}: {', '.join(diverged[:3])} hold NaN or infinite values "
                "(training diverged); retrain with a lower learning rate"
            )
        return arrays


def load_model(path) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (arrays take the current dtype).

    A damaged, foreign or hostile file raises ModelFileError, before any layer allocates more than the
    file's tensors hold (see ``parameter.shapes_on_file``).
    """
    path = checks.file_path(path, "path")
    description, tensors = read_model_file(path)
    if isinstance(description.get("gan"), dict):
        raise ModelFileError(f"{path!r} holds a GAN (two models): load it with nn.load_gan")
    return restore(description, tensors, path)


def restore(description, tensors: dict[str, np.ndarray], path: str) -> Sequential:
    """The model a file's description and tensors (already read and checked) describe; ModelFileError if
    they do not make one."""
    try:
        model = _build(description, {key: tensor.shape for key, tensor in tensors.items()})
    except DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{path!r} has a model description this neuronet cannot build: {exc}") from None
    expected = model.named_arrays()
    if set(expected) != set(tensors):
        raise ModelFileError(
            f"{path!r}: weights do not match the architecture "
            f"(missing {sorted(set(expected) - set(tensors))}, unexpected {sorted(set(tensors) - set(expected))})"
        )
    for key, target in expected.items():
        if tensors[key].shape != target.shape:  # each layer declared its shapes; this catches one that did not
            raise ModelFileError(f"{path!r}: weight {key} has shape {tensors[key].shape}, expected {target.shape}")
        target[...] = tensors[key]
    try:
        for layer in model.layers:
            layer.check_loaded()
    except ValueError as exc:
        raise ModelFileError(f"{path!r} holds arrays no trained model has: {exc}") from None
    try:
        check_layers_fit(model, limit=SAMPLE_LIMIT)
    except DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{path!r}: its layers do not fit together: {exc}") from None
    return model


def check_layers_fit(model: Sequential, shape: tuple | None = None, limit: int | None = None) -> None:
    """One zero sample of ``shape`` (batch first; by default the model's input shape) through every layer: a
    layer that does not take it raises a ValueError naming it now, rather than at the first predict. With
    ``limit``, a layer that would make more values per sample is refused before the sample allocates them (a
    model file's hostile ``input_shape``). The model is left as it was."""
    shape = shape or model.known_input_shape()
    if not shape or None in shape[1:]:
        return
    largest = values_per_sample(model.layers, shape)
    if limit is not None and largest > limit:
        raise ValueError(
            f"one sample of its input shape {tuple(shape[1:])} makes {largest:,} values in a layer; "
            f"neuronet takes models of at most {limit:,} values per sample and layer"
        )
    x = np.zeros((1, *shape[1:]), dtype=np.int64 if model.takes_ids else model.dtype)
    with np.errstate(all="ignore"):  # only the shapes matter
        for layer in model.layers:
            x = layer.forward(layer.ops.asarray(x))


def values_per_sample(layers: list[Layer], shape: tuple) -> int:
    """The most values one sample of ``shape`` makes in the input or a layer's output, as far as the layers'
    shapes follow it (a layer it does not fit ends the count: its forward pass says why)."""
    sizes = [math.prod(shape[1:])]
    with contextlib.suppress(*DESCRIPTION_ERRORS):
        for layer in layers:
            shape = layer.output_shape(shape)
            sizes.append(math.prod(shape[1:]))
    return max(sizes)


# the most values one sample may make in any layer of a loaded model (256 MiB in float32)
SAMPLE_LIMIT = 2**26

# what building from a description can raise: a bad value or type, a missing key, an absurd number
DESCRIPTION_ERRORS = (KeyError, TypeError, ValueError, OverflowError, RecursionError, AttributeError)


def _field(spec, key: str, kind: type, where: str):
    """``spec[key]``, which must be of ``kind`` (a JSON object, list or string)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(spec).__name__}")
    value = spec.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{where}: {key!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def spec(obj) -> dict:
    """A loss or optimizer as a file describes it: its class name and its config."""
    return {"class": type(obj).__name__, "config": obj.get_config()}


def from_spec(registry: dict, described, where: str):
    """An instance of the class ``described["class"]`` from ``registry``, built with its ``"config"``."""
    name = _field(described, "class", str, where)
    if name not in registry:
        raise ValueError(f"{where}: unknown class {name!r}")
    return registry[name](**_field(described, "config", dict, where))


def _build(description, shapes: dict[str, tuple]) -> Sequential:
    """The model a file's description describes, each layer checked against the file's tensor ``shapes``."""
    config = _field(description, "model", dict, "the description")
    input_shape = config.get("input_shape")
    if input_shape is not None and (not isinstance(input_shape, list) or None in input_shape):
        raise ValueError(f"input_shape must be a list of sizes, got {input_shape!r}")
    # (set once the layers are in: their fit is checked at load with a limit, before a sample is made)
    shape = None if input_shape is None else (None, *sample_shape(input_shape))
    model = Sequential()
    for i, spec in enumerate(_field(config, "layers", list, "the model")):
        name = _field(spec, "name", str, f"layer {i}")
        prefix = f"{i}.{name}."
        on_file = {key[len(prefix) :]: shape for key, shape in shapes.items() if key.startswith(prefix)}
        try:
            with shapes_on_file(on_file):
                layer = deserialize(spec, f"layer {i}")
        except DESCRIPTION_ERRORS as exc:
            raise ValueError(f"layer {i} ({spec.get('class')!r}, {name!r}): {exc}") from None
        model.add(layer)
        layer.name = name
    model.input_shape = shape
    if "loss" in config:
        metrics = _field(config, "metrics", list, "the model")
        model.compile(
            loss=from_spec(LOSSES, config["loss"], "the loss"),
            optimizer=from_spec(OPTIMIZERS, config["optimizer"], "the optimizer"),
            metrics=[checks.text(m, "a metric name") for m in metrics],
        )
    metadata = description.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"the metadata must be a JSON object, got {type(metadata).__name__}")
    model.metadata = metadata
    return model


# a sample with more axes is no data neuronet knows (images have three); NumPy's own limit is 64 with the batch
MAX_AXES = 16


def sample_shape(value, name: str = "input_shape") -> tuple:
    """``value`` checked as one sample's shape: a tuple or list of sizes >= 1 (None: a free axis)."""
    if not isinstance(value, (tuple, list)):
        raise checks.ArgumentError(
            f"{name} must be a tuple of sizes for one sample, e.g. (4,) or (28, 28, 1), got {value!r}"
        )
    if not 1 <= len(value) <= MAX_AXES:
        raise checks.ArgumentError(f"{name} must have 1 to {MAX_AXES} axes, got {len(value)}")
    return tuple(None if d is None else checks.integer(d, f"each size in {name}", low=1) for d in value)


DIVERGED_OUTPUTS = (
    "the model's outputs hold NaN or infinite values although X is finite: its weights have diverged "
    "(retrain with a lower learning rate) or X holds extreme values (scale it)"
)


def _backward(steps: list, dy, input_grad: bool):
    """Backpropagate ``dy`` through ``steps``, last to first; dL/d input, or None without ``input_grad``."""
    if not steps:
        return dy
    for step in steps[:0:-1]:
        dy = step.backward(dy)
    if input_grad:
        return steps[0].backward(dy)
    steps[0].backward_params_only(dy)  # training needs no gradient for the data itself
    return None
