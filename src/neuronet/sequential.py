"""The Sequential model: layers in a row, trained by backpropagation.

A Sequential is its layers and their passes: ``call`` runs a batch forwards
through them, ``backward`` sends dL/d(output) back through them, last to
first, each layer adding dL/d(its parameters) into their ``.grad``. All else
(compile, fit, evaluate, predict, weights, devices, saving) is what every
model is (``model.py``).

The model plans its layers once until they change: the stages its passes run
(a convolution and its pooling fused, where the ops is tuned for a CPU,
``fusion.py``) and whether the loss absorbs the last activation's backward
pass (softmax with cross-entropy: the "head").

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

from . import checks, fusion, inputs, model_file
from .layers.activations import Activation
from .layers.base import Layer
from .model import Model
from .saving import ModelFileError, read_model_file


class Sequential(Model):
    """A stack of layers, each feeding the next."""

    def __init__(self, layers: list[Layer] | None = None, input_shape: tuple | None = None) -> None:
        """``input_shape``: one sample's shape (no batch axis), checked against the layers when both are given;
        None on an axis leaves it free (a sequence's length)."""
        super().__init__()
        self.input_shape = None if input_shape is None else (None, *checks.sample_shape(input_shape))
        self._plan_key: tuple | None = None  # the layers (by identity), loss and ops the plan was made for
        self._stages: list = []  # what the passes run: the layers, or fused stages of them (fusion.py)
        self._masked = False  # does a stage take a mask (a recurrent layer)? Then the passes hand masks on
        self._head: Layer | None = None
        self._training_passes = 0  # training forward passes since the last backward (see the module's docstring)
        self._seen_shape: tuple | None = None  # the shape of the last input, batch as None (for summary)
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise checks.ArgumentError(f"Sequential takes a list of layers, got {type(layers).__name__}")
        for layer in layers or []:
            self._append(layer)
        if self.layers:
            self._check_input_shape()

    # -- building ----------------------------------------------------------------------------------
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
            model_file.check_layers_fit(self)
        except model_file.DESCRIPTION_ERRORS as exc:
            shape = tuple(self.input_shape[1:])
            raise checks.ArgumentError(f"input_shape {shape} does not fit the layers: {exc}") from None

    def _plan(self) -> list:
        """The stages the passes run, made once for the current layers (and again only when they change)."""
        key = (tuple(map(id, self.layers)), id(self.loss), id(self.ops))
        if key != self._plan_key:
            for layer in self.layers:
                if layer.ops is not self.ops:  # put in place of another (pruning) rather than added
                    layer.use_ops(self.ops)
            planned = fusion.plan(self.layers) if self.ops.tuned_for_cpu else list(self.layers)
            self._stages, self._head, self._plan_key = planned, self._find_head(), key
            self._masked = any(stage.takes_mask for stage in self._stages)
        return self._stages

    def _find_head(self) -> Layer | None:
        """The last layer, if the loss absorbs its activation's backward pass (softmax + cross-entropy)."""
        if not self.layers or self.loss is None or self.loss.fuses_with is None:
            return None
        if getattr(self.loss, "from_logits", False):
            return None
        last = self.layers[-1]
        act = last if isinstance(last, Activation) else getattr(last, "activation", None)
        return last if act is not None and act.default_name == self.loss.fuses_with else None

    # -- the passes ------------------------------------------------------------------------------
    def forward(self, x, training: bool = False):
        """The outputs for a batch ``x``; the layers keep what a backward pass needs."""
        self._training_passes += bool(training)
        return self.call(x, training)

    def call(self, x, training: bool = False):
        """The outputs for ``x``, as :meth:`forward`, without counting the pass for the check of ``backward``
        (see the module's docstring): for a pass no backward pass answers (scoring, a GAN's generated
        batch), or one a training step answers at once itself."""
        self.ops.prepare()
        x = self.ops.asarray(x)
        self._seen_shape = (None, *x.shape[1:])
        if x.dtype != self.dtype and x.dtype.kind in "fiub" and not self.takes_ids:
            x = x.astype(self.dtype)  # lists, float64, ints: compute in the model's float type
        mask = None  # which steps of a sequence are real (see Layer.output_mask): Embedding makes it
        for stage in self._plan():
            if self._masked and stage.takes_mask and mask is not None:
                x = stage.forward(x, training, mask=mask)
            else:
                x = stage.forward(x, training)
            if self._masked:
                mask = stage.output_mask(mask)
        return x

    def backward(self, dy, input_grad: bool = True):
        """Backpropagate ``dy`` (dL/d output) through every layer; return dL/d input.

        It differentiates the last forward pass: after two training passes (``training=True``) without a
        backward pass between them, it is an error rather than the second batch's gradient.
        """
        self._answer_pass("backward")
        return backward_through(self._plan(), dy, input_grad)

    def _answer_pass(self, what: str) -> None:
        """A backward pass answers the last training forward pass: refused after two unanswered ones."""
        passes, self._training_passes = self._training_passes, 0
        if passes > 1:
            raise RuntimeError(
                f"model.{what} after {passes} training forward passes: each layer keeps only its last "
                "pass's inputs, so this could only be the last batch's gradient. Call it after each "
                "forward: forward(a, training=True), backward(da), forward(b, training=True), backward(db)"
            )

    def loss_of(self, out, y) -> float:
        """The data loss of the outputs ``out``: checked by the loss (probabilities where it needs them),
        unless the loss absorbs the last activation, whose outputs are what it takes by construction."""
        self._plan()
        return self.loss.value(out, y) if self._head is not None else self.loss.forward(out, y)

    def backward_loss(self, out, y, share: float = 1.0) -> None:
        """Every ``.grad`` set (not added to) to ``share`` times the gradient of the data loss of ``out``, the
        outputs of the last training pass, which this answers (as :meth:`backward` does): the gradients are
        zeroed here, where they are made. ``share``: a part's fraction of a batch split into parts."""
        self._answer_pass("backward_loss")
        params = self.parameters()
        for p in params:
            p.zero_grad()
        planned, head = self._plan(), self._head
        # with a head, the loss's gradient with respect to the scores before the activation
        dz = self.loss.backward(out, y) if head is None else self.loss.backward_through_activation(out, y)
        if share != 1.0:
            dz *= share  # in place: a NumPy float64 share must not turn a float32 model's gradients to float64
        if head is not None:
            planned = planned[:-1]  # a separate Softmax/Sigmoid layer is skipped; Dense(softmax) its linear part
            if not isinstance(head, Activation):
                dz = head.backward_linear(dz, input_grad=bool(planned))
        backward_through(planned, dz, input_grad=False)
        for p in params:
            p.settle_grad()  # (a parameter no pass reached holds zeros, not the last batch's gradient)

    def known_input_shape(self) -> tuple | None:
        """The input's shape, batch as None, as far as it is known (given, fixed by the first layer, or seen)."""
        if self.input_shape is not None:
            return self.input_shape
        fixed = self.layers[0].input_shape() if self.layers else None
        if fixed and None not in fixed[1:]:
            return fixed
        return self._seen_shape or fixed  # (a recurrent layer fixes the features, not the time steps)

    @property
    def takes_ids(self) -> bool:
        """Whether the model's input is integer token ids (an Embedding first)."""
        return bool(self.layers) and self.layers[0].takes_ids

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


def load_model(path) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (arrays take the current dtype).

    A damaged, foreign or hostile file raises ModelFileError, before any layer allocates more than the
    file's tensors hold (see ``file_shapes.shapes_on_file``).
    """
    path = checks.file_path(path, "path")
    description, tensors = read_model_file(path)
    if isinstance(description.get("gan"), dict):
        raise ModelFileError(f"{path!r} holds a GAN (two models): load it with nn.load_gan")
    return model_file.restore(description, tensors, path, Sequential)


def backward_through(stages: list, dy, input_grad: bool):
    """Backpropagate ``dy`` through ``stages``, last to first; dL/d input, or None without ``input_grad``."""
    if not stages:
        return dy
    for stage in stages[:0:-1]:
        dy = stage.backward(dy)
    if input_grad:
        return stages[0].backward(dy)
    stages[0].backward_params_only(dy)  # training needs no gradient for the data itself
    return None
