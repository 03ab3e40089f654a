"""What every neuronet model is: a graph of layers (``graph.py``) with its passes, compiled with a loss per
output, an optimizer and metrics; trained, evaluated and used; its parameters in one flat buffer; moved
between devices; saved.

``nn.Model(inputs, outputs)`` is a model of any graph, built from nodes (``nodes.py``): residual
connections, several inputs and outputs, shared layers. A ``Sequential`` (``sequential.py``) is a model
whose graph is a chain; both run the same passes here:

- ``call``/``forward``: the graph's layers in topological order (``Graph.forward``), in stages the model
  plans once until its layers change (a convolution and its pooling fused where the ops is tuned for a CPU);
- ``backward``: dL/d(outputs) back through them in reverse, the gradients of a node read by several layers
  added up; ``backward_loss``: the same from the losses, where softmax with cross-entropy skips the last
  activation's backward pass (the "head": the loss gives dL/d(scores) directly).

Each layer keeps what its backward pass needs from its last forward pass only (a one-slot cache, as the
book's layers do), so ``model.backward`` must follow the forward pass it differentiates: a second training
pass in between is an error, not the other batch's gradient.

What a training step does with the passes (forward, loss, backward, update, on one thread, several, or
several processes) is a strategy of ``steps/``, chosen once by ``fit``; the loop around it is
``training.py``. Each concept a model uses has its own module: the flat parameter buffer
(``parameter.py``), the epoch's metrics (``metrics.EpochMetrics``), the checks of data (``inputs.py``), the
model file (``model_file.py``), the summary table (``summary.py``).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np

from . import (
    arrays,
    checks,
    explain,
    inputs,
    losses,
    lr_finder,
    model_file,
    optimizers,
    samples,
    steps,
    summary,
    training,
)
from . import eject as ejection
from . import metrics as metrics_lib
from .callbacks import History
from .graph import Graph
from .layers.activations import Activation, sigmoid
from .layers.base import Layer
from .ops import for_device, get_ops
from .parameter import ModelParameters, Parameter
from .several import Several, listed


class Model:
    """A model of layers: ``nn.Model(inputs=x, outputs=y)`` for a graph of nodes (see the module's docstring;
    ``inputs``/``outputs`` a node or a list of them), or a ``Sequential``."""

    kind = "model"  # what summary() calls it

    def __init__(self, inputs=None, outputs=None) -> None:
        self.layers: list = []
        self.input_shape: tuple | None = None  # one input's shape, batch as None (Sequential's input_shape=)
        self.ops = get_ops().spawn()  # the model's own: its generator is drawn from nn.set_seed's
        self.loss: losses.Loss | None = None  # the (first) output's
        self.losses: list[losses.Loss] = []  # one per output
        self.loss_weights: list[float] = []
        self.optimizer: optimizers.Optimizer | None = None
        self.metrics: list[tuple[str, callable]] = []
        self.metric_specs: list = []  # as given to compile: the names among them are saved
        self.epoch_metrics = metrics_lib.EpochMetrics([])
        self.metadata: dict = {}  # JSON-able extras saved with the model (the CLI keeps its table settings here)
        self.stop_training = False
        # functions f(stage, value) shown each training pass's inputs (stage None) and its layers' outputs, as
        # Graph.forward makes them (the TrainingDoctor's window); a thread's replica shares this very list
        self.watchers: list = []
        self.params = ModelParameters()
        self.several_inputs = self.several_outputs = False  # given as lists (then fit and predict take lists)
        self._graph: Graph | None = None
        self._step: steps.PlainStep | None = None  # make_step's, kept while the ops and the layers stay (a move
        self._step_key: tuple = ()  # to another device makes another: the thread split is the CPU's)
        self._plan_key: tuple | None = None  # the graph, losses and ops the plan was made for
        self._calls: list = []  # what the passes run (graph.Call): the layers, or fused stages of them
        self._masked = False  # does a stage take a mask (a recurrent layer)? Then the passes hand masks on
        self._heads: frozenset = frozenset()  # the outputs whose loss absorbs the last activation
        self._planned: Graph | None = None  # the graph the plan was made for
        self._ids: list[bool] = []  # which inputs hold token ids (not cast to floats)
        self._built = False  # every layer built (Dense(32) is built by the first batch)
        self._training_passes = 0  # training forward passes since the last backward (see the module's docstring)
        self._seen_shapes: list | None = None  # the shapes of the last inputs, batch as None (for summary)
        if inputs is None and outputs is None and type(self) is Model:
            raise checks.ArgumentError(
                "nn.Model needs its inputs and outputs: x = nn.Input(shape=...), y = layer(x), "
                "nn.Model(inputs=x, outputs=y); for layers in a row, nn.Sequential([...])"
            )
        if inputs is not None or outputs is not None:
            self.several_inputs = isinstance(inputs, (list, tuple))
            self.several_outputs = isinstance(outputs, (list, tuple))
            self._graph = Graph(listed(inputs), listed(outputs))
            for layer in self._graph.layers:
                self.name_layer(layer)
            for k, node in enumerate(self._graph.inputs):
                if node.name == "input":
                    node.name = "input" if k == 0 else f"input_{k}"
            self._check_fit()

    def name_layer(self, layer: Layer) -> None:
        """Give ``layer`` a name unique in the model (dense, dense_1, ...) as Keras does, and the model's ops."""
        if not isinstance(layer, Layer):
            raise TypeError(f"a model's layers must be Layers, got {type(layer).__name__}")
        taken = {existing.name for existing in self.layers}
        base, name, i = layer.default_name, layer.default_name, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        layer.name = name
        layer.use_ops(self.ops)  # it computes with the model's ops from now on
        self.layers.append(layer)

    def _check_fit(self) -> None:
        """Where every input's shape is known: one zero sample through the layers, so that a layer that does not
        fit is named now rather than at the first batch (``model_file.check_layers_fit``), and none makes more
        values per sample than a model file may (``SAMPLE_LIMIT``: checked before the sample is made)."""
        try:
            model_file.check_layers_fit(self, limit=model_file.SAMPLE_LIMIT)
        except model_file.DESCRIPTION_ERRORS as exc:
            raise checks.ArgumentError(f"the layers do not fit together: {exc}") from None

    @property
    def graph(self) -> Graph:
        """The model's graph of layers (a Sequential's is the chain of its layers, made again when they change)."""
        return self._graph

    @property
    def output_names(self) -> list[str]:
        """Each output's name, its layer's (unique: a layer that makes two outputs names the second "<name>_1"),
        as History's keys for several outputs use it ("<name>_loss")."""
        names = []
        for node in self.graph.outputs:
            name, i = node.layer.name, 0
            while name in names:
                i += 1
                name = f"{node.layer.name}_{i}"
            names.append(name)
        return names

    def compile(self, loss="categorical_crossentropy", optimizer="adam", metrics=None, loss_weights=None) -> None:
        """Choose the loss (one for every output, or a list with one per output), the optimizer, the metrics
        reported during training (with several outputs: for each output, or a list of lists, one per output)
        and, with several outputs, ``loss_weights`` (the loss minimised is their weighted sum; 1 each by
        default). A setting refused (with the reason) leaves the model as it was."""
        graph = self.graph if self.layers else None  # (an empty Sequential has no graph yet)
        count = len(graph.outputs) if graph is not None else 1
        given = list(loss) if isinstance(loss, (list, tuple)) else [loss] * count
        if len(given) != count:
            raise checks.ArgumentError(f"loss is a list of {len(given)}, but the model has {count} outputs")
        given = [losses.get(one) for one in given]
        if loss_weights is None:
            weights = [1.0] * count
        elif not isinstance(loss_weights, (list, tuple)) or len(loss_weights) != count:
            raise checks.ArgumentError(
                f"loss_weights must be a list of {count} numbers, one per output; got {loss_weights!r}"
            )
        else:
            weights = [checks.number(w, "each of loss_weights", low=0.0) for w in loss_weights]
        optimizer = optimizers.get(optimizer)
        if graph is not None:
            for one, node in zip(given, graph.outputs):
                one.check_last_layer(node.layer)  # raw scores into a loss of probabilities
        per_output = metrics_per_output(metrics, count)
        chosen = [[metrics_lib.get(m) for m in listed_metrics] for listed_metrics in per_output]  # (name, function)
        for one, mine in zip(given, chosen):
            regression = isinstance(one, (losses.MeanSquaredError, losses.MeanAbsoluteError))
            wrong = [name for name, _ in mine if regression and metrics_lib.is_classification(name)]
            if wrong:
                raise ValueError(
                    f"{wrong} are classification metrics; a regression output (MSE/MAE loss) has none"
                    + ("; give the metrics per output, e.g. metrics=[[], ['accuracy']]" if count > 1 else "")
                )
        self.losses, self.loss_weights, self.loss = given, weights, given[0]
        self.optimizer, self.metric_specs, self.metrics = optimizer, list(metrics or []), chosen[0]
        # outputs trained as scores (BinaryCrossentropy(from_logits=True)) are turned into probabilities for metrics
        converts = [sigmoid if isinstance(o, losses.BinaryCrossentropy) and o.from_logits else None for o in given]
        if count == 1:
            self.epoch_metrics = metrics_lib.EpochMetrics(chosen[0], converts[0])
        else:
            self.epoch_metrics = metrics_lib.EpochMetrics.per_output(self.output_names, chosen, converts, given)
        self._drop_step()  # (a split step's copies of the layers hold the loss they were made with)

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
            self._drop_step()
            self._step, self._step_key = self.make_step(), made_for
        return self._step

    def _drop_step(self) -> None:
        """Close the kept step (its worker processes end now, not when a garbage collection finds it)."""
        if self._step is not None:
            self._step.close()
            self._step = None

    def replica(self, shared: dict) -> Model:
        """A copy of the model that runs its passes apart from it (a thread's, ``steps/threads.py``): its layers
        and its graph are its own, deep copies made together (the copy's graph calls the copied layers) in
        which the objects of ``shared`` (by id, as ``copy.deepcopy``'s memo: the weights, the states, the ops)
        are the model's own; everything else it holds (loss, optimizer, settings, the flat buffer's record)
        is the model's itself, as in ``copy.copy``."""
        memo = dict(shared)
        # (deepcopy takes what its memo holds as the copy of an object): the plan is the copy's to make again
        # for its own layers, and the graph it was made for is copied with the layers
        fresh = {"_plan_key": None, "_calls": []}
        for name, value in vars(self).items():
            if name not in ("layers", "_graph", "_planned"):
                memo[id(value)] = fresh.get(name, value)
        return copy.deepcopy(self, memo)

    def train_step(self, x, y) -> dict[str, float]:
        """One step of gradient descent on a batch ``x`` with targets ``y`` in the loss's form; its logs.
        A subclass that overrides it and leaves out ``super().train_step`` records what its metrics need with
        ``self.epoch_metrics.record(y, outputs)``."""
        return self._built_in_step().train_step(x, y)

    def test_step(self, x, y) -> dict[str, float]:
        """The loss (with regularisation, as in training) on a batch, recorded for the metrics too."""
        return self._built_in_step().test_step(x, y)

    def train_on_batch(self, x, y) -> float:
        """One training step on the batch ``x`` with targets ``y`` (forward, loss, backward, the compiled
        optimizer's update, as ``fit`` takes on each batch); the batch's loss, with regularisation."""
        x, y = self.check_data(x, y)
        return float(self.local_step().train_step(x, y)["loss"])

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

    # -- the passes (graph.py) ----------------------------------------------------------------------
    def forward(self, x, training: bool = False):
        """The outputs for a batch ``x`` (a list with several inputs or outputs); the layers keep what a backward
        pass needs."""
        self._training_passes += bool(training)
        return self.call(x, training)

    def call(self, x, training: bool = False):
        """The outputs for ``x``, as :meth:`forward`, without counting the pass for the check of ``backward``
        (see the module's docstring): for a pass no backward pass answers (scoring, a GAN's generated
        batch), or one a training step answers at once itself."""
        values = self._values(x, training, self._plan())
        outs = [values[slot] for slot in self._planned.output_slots]
        return outs if self.several_outputs else outs[0]

    def _values(self, x, training: bool, calls: list) -> list:
        """Every node's value for ``x`` through ``calls`` (a plan of the model's graph)."""
        self.ops.prepare()
        graph = self._planned
        # (a model of one input given nested lists of numbers takes them as one array, as NumPy would read them)
        one_array = len(graph.inputs) == 1 and isinstance(x, (list, tuple)) and not any(hasattr(v, "shape") for v in x)
        xs = [self._on_device(v, k) for k, v in enumerate([x] if one_array else listed(x))]
        if len(xs) != len(graph.inputs):
            raise checks.ArgumentError(f"the model has {len(graph.inputs)} inputs, got {len(xs)} arrays")
        self._seen_shapes = [(None, *v.shape[1:]) for v in xs]
        if not self._built:  # sizes inferred from the first batch (Dense(32))
            graph.build(self._seen_shapes)
            self._built = True
        if not (training and self.watchers) or graph.watch is not None:  # (explain_step's pass has its own)
            return graph.values(calls, xs, training, self._masked)
        for value in xs:  # the training pass's inputs, then each call's output as the graph makes it
            self._show_watchers(None, value)
        graph.watch = ShownToWatchers(self._show_watchers)
        try:
            return graph.values(calls, xs, training, self._masked)
        finally:
            graph.watch = None

    def layer_outputs(self, x) -> dict[str, np.ndarray]:
        """Every layer's output for the batch ``x`` (as :meth:`predict` computes it, no layer fused), as NumPy
        arrays by layer name in the order the layers run; a shared layer's later calls as "<name>:1", "<name>:2".
        The model's weights and states are left as they were."""
        if self.graph is None:
            raise RuntimeError("the model has no layers yet: add some before asking for their outputs")
        x = self.check_x(x)
        self._plan()
        graph = self._planned
        values = self._values(x, False, graph.plan(fuse=False))
        found, calls = {}, {}
        for node, value in zip(graph.nodes, values):
            if node.is_input:
                continue
            name = node.layer.name
            k = calls[name] = calls.get(name, -1) + 1
            found[name if k == 0 else f"{name}:{k}"] = self.ops.to_numpy(value)
        return found

    def _show_watchers(self, stage, value) -> None:
        for watcher in list(self.watchers):  # (a copy: a watcher may take itself off)
            watcher(stage, value)

    @contextmanager
    def shapes_kept(self):
        """Within it, calls leave the input shapes the model has seen (what ``summary`` shows and a file saves)
        as they were: for passes on pieces of a sequence (``generation.py``'s steps), not whole samples."""
        seen = self._seen_shapes
        try:
            yield self
        finally:
            self._seen_shapes = seen

    def _on_device(self, x, k: int):
        """Input ``k``'s batch on the model's device, in its float type unless it holds token ids."""
        x = self.ops.asarray(x)
        if x.dtype != self.dtype and x.dtype.kind in "fiub" and not self._ids[k]:
            x = x.astype(self.dtype)  # lists, float64, ints: compute in the model's float type
        return x

    def on_device(self, y):
        """Targets (an array, or several: a Several or a list, one per output) on the model's device."""
        if self.several_outputs and isinstance(y, (Several, list, tuple)):
            return Several([self.ops.asarray(v) for v in listed(y)])
        return self.ops.asarray(y)

    def backward(self, dy, input_grad: bool = True):
        """Backpropagate ``dy`` (dL/d output; a list for several outputs) through every layer; return dL/d
        input (a list for several inputs).

        It differentiates the last forward pass: after two training passes (``training=True``) without a
        backward pass between them, it is an error rather than the second batch's gradient.
        """
        self._answer_pass("backward")
        dys = [self.ops.asarray(d) for d in listed(dy)]
        dxs = self._planned.backward(self._plan(), dys, input_grad)
        return dxs if self.several_inputs else dxs[0]

    def _answer_pass(self, what: str) -> None:
        """A backward pass answers the last training forward pass: refused after two unanswered ones."""
        passes, self._training_passes = self._training_passes, 0
        if passes > 1:
            raise RuntimeError(
                f"model.{what} after {passes} training forward passes: each layer keeps only its last "
                "pass's inputs, so this could only be the last batch's gradient. Call it after each "
                "forward: forward(a, training=True), backward(da), forward(b, training=True), backward(db)"
            )

    def loss_of(self, out, y, sample_weight=None) -> float:
        """The data loss of the outputs ``out`` (the weighted sum over several): each checked by its loss
        (probabilities where it needs them), unless the loss absorbs the last activation, whose outputs are
        what it takes by construction. ``sample_weight`` (n,): each sample's loss weighted, sum(w_i L_i) / n."""
        self._plan()
        total = 0.0
        for slot, loss, weight, o, t in zip(
            self.graph.output_slots, self.losses, self.loss_weights, listed(out), listed(y)
        ):
            w = sample_weight
            total += weight * (loss.weighted_value(o, t, w) if slot in self._heads else loss.forward(o, t, w))
        return total

    def backward_loss(self, out, y, share: float = 1.0, sample_weight=None) -> None:
        """Every ``.grad`` set (not added to) to ``share`` times the gradient of the data loss of ``out``, the
        outputs of the last training pass, which this answers (as :meth:`backward` does): the gradients are
        zeroed here, where they are made. ``share``: a part's fraction of a batch split into parts;
        ``sample_weight`` (n,): the loss sum(w_i L_i) / n, whose gradient is sample i's rows times w_i."""
        self._answer_pass("backward_loss")
        params = self.parameters()
        for p in params:
            p.zero_grad()
        calls = self._plan()
        dys = []
        for slot, loss, weight, o, t in zip(
            self.graph.output_slots, self.losses, self.loss_weights, listed(out), listed(y)
        ):
            # with a head, the loss's gradient with respect to the scores before the activation
            dz = loss.backward_through_activation(o, t) if slot in self._heads else loss.backward(o, t)
            if share * weight != 1.0:
                dz *= share * weight  # in place: a NumPy float64 must not turn a float32 model's gradients to float64
            if sample_weight is not None:
                dz *= sample_weight.reshape(-1, *(1,) * (dz.ndim - 1))  # (float32 weights for a float32 model)
            dys.append(dz)
        self._planned.backward(calls, dys, input_grad=False, heads=True)
        for p in params:
            p.settle_grad()  # (a parameter no pass reached holds zeros, not the last batch's gradient)

    def _per_output(self, out, y):
        """For each output: its node, its loss and weight, its values and its targets."""
        return zip(self._planned.output_slots, self.losses, self.loss_weights, listed(out), listed(y))

    def _plan(self) -> list:
        """The calls the passes run, made once for the current graph (and again only when it changes)."""
        graph = self.graph
        # (held, so compared by identity: an id may be reused); a watched graph is planned unfused (explain.py)
        key = (graph, self.ops, graph.watch, *self.losses)
        if len(key) != len(self._plan_key or ()) or any(a is not b for a, b in zip(key, self._plan_key)):
            for layer in graph.layers:
                if layer.ops is not self.ops:  # put in place of another (pruning) rather than added
                    layer.use_ops(self.ops)
            self._calls = graph.plan(fuse=self.ops.tuned_for_cpu)
            self._heads = frozenset(self._find_heads())
            for call in self._calls:
                call.head = call.target in self._heads
            self._masked = any(call.stage.takes_mask for call in self._calls)
            self._built = all(layer.built for layer in graph.layers)
            self._ids = [self.input_takes_ids(k) for k in range(len(graph.inputs))]
            self._plan_key, self._planned = key, graph
        return self._calls

    def _find_heads(self):
        """The outputs whose loss absorbs their layer's activation's backward pass (softmax + cross-entropy): an
        output made by a layer of its own (not fused, not shared) that nothing else reads."""
        graph = self.graph
        made_by = {call.target: call for call in self._calls}
        for slot, loss in zip(graph.output_slots, self.losses):
            call = made_by[slot]
            if loss.fuses_with is None or getattr(loss, "from_logits", False):
                continue
            if call.stage is not call.layer or call.shared or graph.readers[slot] or graph.output_slots.count(slot) > 1:
                continue
            layer = call.layer
            act = layer if isinstance(layer, Activation) else getattr(layer, "activation", None)
            if act is not None and act.default_name == loss.fuses_with:
                yield slot

    def known_input_shape(self) -> tuple | None:
        """The (first) input's shape, batch as None, as far as it is known (given, fixed by the first layer,
        or seen)."""
        shapes = self.known_input_shapes()
        return shapes[0] if shapes else None

    def known_input_shapes(self) -> list:
        """Each input's shape, batch as None, as far as it is known (its nn.Input's, or seen); None where not."""
        seen = self._seen_shapes or [None] * len(self.graph.inputs)
        return [node.shape if node.shape is not None else s for node, s in zip(self.graph.inputs, seen)]

    def input_takes_ids(self, k: int = 0) -> bool:
        """Whether input ``k`` is integer token ids: its nn.Input says so, or a layer reading it (an Embedding)."""
        graph = self.graph
        if graph is None:
            return False
        node = graph.inputs[k]
        if node.dtype is not None:
            return node.dtype.startswith(("int", "uint"))
        return any(n.layer.takes_ids for n in graph.nodes if node in n.parents)

    @property
    def takes_ids(self) -> bool:
        """Whether the (first) input is integer token ids."""
        return self.input_takes_ids(0)

    def summary(self, print_fn=print) -> str:
        """Print (and return) a table of layers, output shapes, parameter counts and the layers feeding each."""
        text = summary.table(self)
        print_fn(text)
        return text

    # -- what the model takes ----------------------------------------------------------------------
    @property
    def dtype(self):
        """The float type the model computes in: its parameters'."""
        if self.params.flat is not None:  # (once trained: no walk over the layers on every forward pass)
            return self.params.flat.data.dtype
        for layer in self.layers:  # (the first parameter's: no list of them all on every call)
            for p in layer.parameters():
                return p.data.dtype
        return self.ops.dtype

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
        y=None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: list | None = None,
        verbose: int = 1,
        distributed: bool = False,
        sample_weight=None,
        class_weight: dict | None = None,
        accumulate: int = 1,
    ) -> History:
        """Train for ``epochs`` passes over the data in mini-batches; return the History (``training.fit``;
        ``distributed=True`` under mpiexec: data-parallel over the ranks, ``steps/mpi.py``; ``sample_weight``
        and ``class_weight`` weight each sample's loss as Keras does, ``sample_weights.py``; ``accumulate`` k:
        k batches' gradients in one update, as one batch k times as large, ``steps/accumulate.py``)."""
        return training.fit(
            self,
            x,
            y,
            epochs,
            batch_size,
            validation_data,
            validation_split,
            shuffle,
            callbacks,
            verbose,
            distributed,
            sample_weight,
            class_weight,
            accumulate,
        )

    def find_learning_rate(
        self, x, y, start: float = 1e-7, end: float = 10.0, batch_size: int = 32, steps: int = 100, plot=None
    ) -> lr_finder.LearningRateSweep:
        """Sweep the learning rate from ``start`` to ``end`` over one epoch (at least ``steps`` batches) on a copy
        of the model (the model and its optimizer are left as they were) and suggest one: the returned sweep's
        ``suggestion`` (the rate of the lowest smoothed loss / 10; ``steepest`` beside it), with
        ``learning_rates``, ``smoothed`` and ``plot()``; ``plot``: a PNG path for the curve (``lr_finder``, as
        fastai's ``lr_find``)."""
        return lr_finder.find(self, x, y, start, end, batch_size, steps, plot=plot)

    def predict(self, x, batch_size: int = 256) -> np.ndarray | list[np.ndarray]:
        """Outputs for ``x`` as a NumPy array (a list of them for several outputs; ``x`` a list for several
        inputs; or a dataset), computed ``batch_size`` samples at a time to bound memory."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = training.predict(self, samples.inputs_of(self, x), batch_size)
        if not all(arrays.all_finite(r) for r in listed(result)):
            raise ValueError(inputs.DIVERGED_OUTPUTS)
        return result

    def evaluate(self, x, y=None, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss (with regularisation, as in training) and metrics on ``x``, ``y`` (or on a dataset ``x``)."""
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        result = training.scores(self.local_step(), samples.of(self, x, y), batch_size)
        if not np.isfinite(result["loss"]):
            raise ValueError(inputs.DIVERGED_OUTPUTS)
        if checks.verbosity(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        return result

    def eject(self, path) -> str:
        """Write this model as one plain NumPy file (``eject.py``): its forward and backward passes, loss and
        optimizer written out layer by layer, the weights in a ``.npz`` beside it; returns the path."""
        return ejection.eject(self, path)

    # -- seeing inside (explain.py) -----------------------------------------------------------------
    def explain_step(self, x, y, path) -> str:
        """Write to ``path`` one self-contained HTML page showing a training step on the batch ``x``, ``y``
        layer by layer (``explain.write_step``); return the path. The model and its optimizer's state are
        left as they were."""
        passes = self._training_passes
        try:
            return explain.write_step(self, x, y, path)
        finally:
            # the layers now keep the explained batch's inputs: a training pass of the user's still unanswered
            # counts as one more pass, so that a backward pass for it is refused rather than given this batch's
            self._training_passes = passes + 1 if passes else 0

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


class ShownToWatchers:
    """A graph's ``watch`` (see graph.py) for a model's ``watchers``: each call's output shown to them as the
    forward pass makes it (a fused stage's: its last layer's); they see no gradient."""

    def __init__(self, show) -> None:
        self.show = show

    def forward(self, call, x, y) -> None:
        self.show(call.stage, y)

    def backward(self, call, dy, dx) -> None:
        pass


def metrics_per_output(metrics, count: int) -> list[list]:
    """``compile``'s ``metrics`` for each of ``count`` outputs: a list for every output, or (several outputs) a
    list of ``count`` lists, one per output."""
    if metrics is not None and not isinstance(metrics, (list, tuple)):
        raise checks.ArgumentError(f"metrics must be a list of names or functions, got {metrics!r}")
    metrics = list(metrics or [])
    nested = [m for m in metrics if isinstance(m, (list, tuple)) or m is None]
    if not nested:
        return [metrics] * count
    if count == 1 or len(nested) != len(metrics) or len(metrics) != count:
        raise checks.ArgumentError(
            f"metrics must be a list of names or functions, or for a model of several outputs a list of {count} "
            f"such lists (one per output); got {metrics!r}"
        )
    return [list(m or []) for m in metrics]
