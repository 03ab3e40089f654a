"""What every neuronet model is, whatever the shape of its layers: compiled with a loss, an optimizer and
metrics; trained, evaluated and used; its parameters in one flat buffer; moved between devices; saved.

A model's layers and their passes (forward, backward) are its kind's:
``sequential.py``'s ``Sequential`` runs them in a row. What a training step
does with the passes (forward, loss, backward, update, on one thread,
several, or several processes) is a strategy of ``steps/``, chosen once by
``fit``; the loop around it, epochs of mini-batches with validation and
callbacks, is ``training.py``. Each concept a model uses has its own module:
the flat parameter buffer (``parameter.py``), the epoch's metrics
(``metrics.EpochMetrics``), the checks of data (``inputs.py``), the model
file (``model_file.py``).
"""

from __future__ import annotations

import numpy as np

from . import arrays, checks, inputs, losses, model_file, optimizers, steps, training
from . import metrics as metrics_lib
from .callbacks import History
from .layers.activations import sigmoid
from .ops import for_device, get_ops
from .parameter import ModelParameters, Parameter


class Model:
    """What the kinds of model share (see the module's docstring); a kind provides ``layers`` (in the order
    they run), ``call``, ``backward``, ``backward_loss``, ``loss_of``, ``known_input_shape`` and ``takes_ids``."""

    def __init__(self) -> None:
        self.layers: list = []
        self.input_shape: tuple | None = None
        self.ops = get_ops().spawn()  # the model's own: its generator is drawn from nn.set_seed's
        self.loss: losses.Loss | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.metrics: list[tuple[str, callable]] = []
        self.metric_specs: list = []  # as given to compile: the names among them are saved
        self.epoch_metrics = metrics_lib.EpochMetrics([])
        self.metadata: dict = {}  # JSON-able extras saved with the model (the CLI keeps its table settings here)
        self.stop_training = False
        self.params = ModelParameters()
        self._step: steps.PlainStep | None = None  # make_step's, kept while the ops and the layers stay (a move
        self._step_key: tuple = ()  # to another device makes another: the thread split is the CPU's)

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
        self.loss, self.optimizer, self.metric_specs, self.metrics = loss, optimizer, list(metrics or []), chosen
        logits = isinstance(loss, losses.BinaryCrossentropy) and loss.from_logits  # then the outputs are scores
        self.epoch_metrics = metrics_lib.EpochMetrics(chosen, sigmoid if logits else None)

    # -- parameters and weights --------------------------------------------------------------------
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
        targets = self._weight_arrays()
        if len(weights) != len(targets):
            raise ValueError(f"set_weights expects {len(targets)} arrays, got {len(weights)}")
        for target, value in zip(targets, weights):
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

    def flat_parameter(self) -> Parameter | None:
        """All parameters as one flat Parameter, so the optimizer runs a few long vector ops (None if there
        are none); made again, the optimizer's state carried over, when the layers change."""
        if self.params.holds(self.parameters()):  # (every step: the names are made only when needed)
            return self.params.flat
        named = {
            f"{i}.{layer.name}.{path}": p
            for i, layer in enumerate(self.layers)
            for path, p in layer.named_parameters().items()
        }
        return self.params.buffer(named, self.ops, self.optimizer)

    # -- devices -----------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        """Where the model's arrays live: "cpu" or "gpu"."""
        return self.ops.device

    def to(self, device) -> Model:
        """Move every parameter, gradient, layer state and optimizer state to ``device`` ("gpu": CuPy on an
        NVIDIA GPU; "cpu": NumPy) and compute there from now on; returns the model. The random stream
        (shuffling, dropout) goes on where it was, though a GPU draws its numbers differently."""
        ops = for_device(device, like=self.ops)
        if ops.device == self.ops.device and type(ops) is type(self.ops):
            return self
        flat = self.params.flat
        if flat is not None:  # one buffer on the device, the parameters views into it as before
            flat.move(ops)
            if self.optimizer is not None:
                self.optimizer.move_state(flat, ops)
        self.ops = ops
        for layer in self.layers:
            layer.use_ops(ops)
        return self

    # -- a training step (steps/) ------------------------------------------------------------------
    def make_step(self) -> steps.PlainStep:
        """The step this model's training takes in a process of its own: ``steps.local`` (the thread split
        where it pays on a CPU, else the plain step). Override it to train differently: return a
        ``steps.PlainStep`` of your own (one that changes ``data_gradients``, say)."""
        return steps.local(self)

    def local_step(self) -> steps.Step:
        """The step ``fit`` and ``evaluate`` take here: :meth:`make_step`'s; where a subclass overrides
        ``train_step`` or ``test_step`` (as Keras allows), a step that calls those."""
        own = {name for name in ("train_step", "test_step") if getattr(type(self), name) is not getattr(Model, name)}
        return steps.ModelsOwnStep(self, self._built_in_step(), own) if own else self._built_in_step()

    def _built_in_step(self) -> steps.PlainStep:
        made_for = (self.ops, *self.layers)
        if (
            self._step is None
            or len(made_for) != len(self._step_key)
            or any(a is not b for a, b in zip(made_for, self._step_key))
        ):
            self._step, self._step_key = self.make_step(), made_for
        return self._step

    def train_step(self, x, y) -> dict[str, float]:
        """One step of gradient descent on a batch ``x`` with targets ``y`` in the loss's form; its logs.
        A subclass that overrides it and leaves out ``super().train_step`` records what its metrics need with
        ``self.epoch_metrics.record(y, outputs)``."""
        return self._built_in_step().train_step(x, y)

    def test_step(self, x, y) -> dict[str, float]:
        """The loss (with regularisation, as in training) on a batch, recorded for the metrics too."""
        return self._built_in_step().test_step(x, y)

    def compute_gradients(self, x, y) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a batch: fill every ``.grad``; return (loss, outputs)."""
        return self._built_in_step().gradients(x, y)

    def apply_gradients(self) -> None:
        """The optimizer's step on every parameter, then each parameter's constraint (SparseDense's mask)."""
        flat = self.flat_parameter()
        if flat is not None:
            self.optimizer.step([flat], self.ops)
            self.params.constrain()

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
        return flat is None or arrays.all_finite(flat.data)

    # -- what the model takes ----------------------------------------------------------------------
    @property
    def dtype(self):
        """The float type the model computes in: its parameters'."""
        if self.params.flat is not None:  # (once trained: no walk over the layers on every forward pass)
            return self.params.flat.data.dtype
        params = self.parameters()
        return params[0].data.dtype if params else self.ops.dtype

    def min_batch(self) -> int:
        """The fewest samples a training batch may hold (BatchNormalization needs two)."""
        return max((layer.min_batch for layer in self.layers), default=1)

    def check_x(self, x, name="X") -> np.ndarray:
        """``x`` checked, in the model's float type (``inputs.check_x``)."""
        return inputs.check_x(self, x, name)

    def check_data(self, x, y, name="X", y_name="y"):
        """``x`` and its targets checked and in the loss's form (``inputs.check_data``)."""
        return inputs.check_data(self, x, y, name, y_name)

    # -- training and using the model (training.py) ------------------------------------------------
    def fit(
        self,
        x,
        y,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: list | None = None,
        verbose: int = 1,
        distributed: bool = False,
    ) -> History:
        """Train for ``epochs`` passes over the data in mini-batches; return the History (``training.fit``;
        ``distributed=True`` under mpiexec: data-parallel over the ranks, ``steps/mpi.py``)."""
        return training.fit(
            self, x, y, epochs, batch_size, validation_data, validation_split, shuffle, callbacks, verbose, distributed
        )

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``x`` as a NumPy array, computed ``batch_size`` samples at a time to bound memory."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = training.predict(self, self.check_x(x), batch_size)
        if not arrays.all_finite(result):
            raise ValueError(inputs.DIVERGED_OUTPUTS)
        return result

    def evaluate(self, x, y, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss (with regularisation, as in training) and metrics on ``x``, ``y``."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = training.scores(self.local_step(), *self.check_data(x, y), batch_size)
        if not np.isfinite(result["loss"]):
            raise ValueError(inputs.DIVERGED_OUTPUTS)
        if checks.verbosity(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        return result

    # -- the model file (model_file.py) ------------------------------------------------------------
    def get_config(self) -> dict:
        return model_file.config(self)

    def save(self, path) -> None:
        """Save architecture, weights, compile settings and metadata (not optimizer state) to ``path``.

        Metrics given as functions are not saved (a file holds no code): a loaded model reports the
        named ones only. Weights that are NaN or infinite are refused: such a model predicts nothing.
        Under mpiexec only rank 0 writes (every rank holds the same model). ``path`` may be a str, bytes or
        os.PathLike; a name for another program's format (``model.onnx``, ``model.keras``) is refused.
        """
        model_file.save(self, path)
