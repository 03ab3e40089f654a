"""The Layer base class: the contract every layer keeps.

A layer maps ``x`` to ``y = layer.forward(x, training)`` and, given the
gradient of the loss with respect to ``y``, returns the gradient with respect
to ``x`` from ``layer.backward(dy)``, after *adding* the gradients of its own
parameters into their ``.grad``. Layers remember what their backward pass
needs (their input, their output) from the last forward pass.

A layer makes its arrays through its ``ops`` (``ops/``), the one a model
gives it. A layer may hold layers (a wrapper such as ``TimeDistributed``):
``sublayers`` names them, and parameters, states, saving and loading walk
them, each array saved under its path ("layer.weights").

A layer whose sizes come from its input (``Dense(32)``, ``Conv2D(16, 3)``)
has no parameters until it is *built* for an input shape (``build``): by
the model at its first batch, by ``nn.Input`` or ``input_shape=`` at once,
or by ``layer(x)``; ``SizedByInput`` below is what such layers share. Called
on a node of a graph model (``nodes.py``), a layer gives the node of its
output; a layer that joins several nodes (a merge layer: ``Add``) says so
with ``takes_list`` and takes and gives lists; one that takes either one
node or several (attention: ``x``, or ``[query, value]``) with
``may_take_list`` (``on_list`` says which a call is).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import checks, memory, nodes
from ..file_shapes import declare, within
from ..ops import get_ops
from ..parameter import Parameter

LAYERS: dict[str, type] = {}  # class name -> class, for loading saved models


class Layer:
    """Base class. Subclasses set ``param_names`` and implement forward/backward."""

    param_names: tuple[str, ...] = ()  # learned arrays (Parameters), in a stable order
    state_names: tuple[str, ...] = ()  # arrays kept but not learned by gradient (running statistics, masks)
    default_name: str = "layer"
    takes_ids: bool = False  # True for layers fed integer token ids (Embedding): the model must not cast them
    # may a training batch be split across threads (see steps/threads.py)? Only if every sample's output depends on
    # that sample alone, with no random draw; and it pays only if some layer's work is mostly NumPy loops
    independent_samples: bool = True
    numpy_bound: bool = False
    # samples per part where a split pays with smaller parts than steps/threads.py's PART (0: PART will do)
    part_samples: int = 0
    min_batch: int = 1  # the fewest samples a training batch may hold (BatchNormalization needs 2)
    # does the layer reduce its batch statistics over the ranks of a distributed fit? The MPI step then hands it
    # the ranks' communicator for each training step (BatchNormalization(synchronized=True): synchronize_over)
    synchronized: bool = False
    # masks (which steps of a sequence are padding): does forward take ``mask=``, and is the mask of the output
    # that of the input (a layer that works on each step alone)? See output_mask.
    takes_mask: bool = False
    keeps_mask: bool = False
    # does forward take a list of inputs (a merge layer: Add()([a, b])), and backward give one gradient for each?
    takes_list: bool = False
    # or may it take one input as well as a list of several (attention: x alone, or [query, value])? See on_list
    may_take_list: bool = False
    # are the parameters made? A layer whose sizes come from its input (Dense(32)) sets False until build()
    built: bool = True
    # on a sequence (batch, time, ...), in inference, does step t of the output depend on step t of the input alone
    # (Dense, LayerNormalization, an activation)? Such a layer runs a step at a time as it runs on the whole
    # sequence, so a causal model made of it generates a step at a time with nothing more (see stepwise_problem)
    positionwise: bool = False
    # a layer that holds layers: does it combine their outputs step by step (step t of its output from step t of
    # theirs, as a Transformer block's residual sums)? Then it takes a sequence a step at a time when they can
    held_stepwise: bool = False

    def __init_subclass__(cls, abstract: bool = False, **kwargs) -> None:
        """Register the class for loading saved models; ``abstract=True`` (a base class) keeps it out."""
        super().__init_subclass__(**kwargs)
        if not abstract:
            LAYERS[cls.__name__] = cls

    def __init__(self) -> None:
        self.name = self.default_name  # a model renames it (dense, dense_1, ...)
        self.ops = get_ops()  # a model gives its layers its own (see use_ops)

    def on_list(self, count: int) -> bool:
        """Does a call of this layer on ``count`` nodes take their values as a list (and its backward give a list
        of gradients)? Always for a merge layer; for a layer that may take a list, when the nodes are several."""
        return self.takes_list or (self.may_take_list and count > 1)

    def forward(self, x, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def backward_params_only(self, dy) -> None:
        """Add the parameter gradients but skip dx: a model's first layer needs no dx."""
        self.backward(dy)

    def __call__(self, x, training: bool = False):
        """``layer(x)``: on a node of a graph model (or a list of them), the node of the output (``nodes.py``); on
        arrays, the forward pass, the layer built for ``x``'s shape first where it was not (as in Keras)."""
        if nodes.is_node(x):
            return nodes.connect(self, x)
        if not self.built:
            self.build([(None, *np.shape(v)[1:]) for v in x] if self.takes_list else (None, *np.shape(x)[1:]))
        return self.forward(x, training)

    def build(self, input_shape) -> None:
        """Make the parameters for inputs of ``input_shape`` (batch first; a list of shapes for a layer that
        ``takes_list``), taking from it the sizes the layer was not given (``Dense(32)`` its inputs); nothing
        to do for a layer built already. The layers that infer a size override it."""

    def check_input_shape(self, input_shape) -> None:
        """A ValueError if a built layer cannot take inputs of ``input_shape`` (batch first, None where free):
        the sizes it fixes (``input_shape()``) must match. Merge layers check their list of shapes."""
        fixed = None if self.takes_list else self.input_shape()
        if fixed is None:
            return
        if len(fixed) != len(input_shape) or any(
            f is not None and g is not None and f != g for f, g in zip(fixed, input_shape)
        ):
            raise ValueError(f"it takes inputs of shape {axes(fixed)}, not {axes(input_shape)}")

    def unbuilt_error(self) -> RuntimeError:
        """The error for a pass through a layer not built yet (see ``build``)."""
        return RuntimeError(
            f"layer '{self.name}' ({type(self).__name__}) has no parameters yet: its input size comes from its first "
            "input. Use it in a model (nn.Input, Sequential(..., input_shape=...) or the first batch build it), "
            "call it as layer(x), or call layer.build(input_shape) first"
        )

    def new_parameter(self, name: str, shape: tuple, initializer, regularizer=None) -> Parameter:
        """The learned array ``name`` of ``shape``, drawn by ``initializer(shape)``: every layer makes its
        parameters here, declaring each shape before it allocates (see ``file_shapes.declare``) and refusing one
        the machine cannot hold (the draw in float64, then the values and their gradient)."""
        shape = declare(name, shape)
        self._require_memory(name, shape, 8 + 2 * np.dtype(self.ops.dtype).itemsize)
        return Parameter(initializer(shape), regularizer, ops=self.ops)

    def new_state(self, name: str, shape: tuple, value: float):
        """A non-learned array ``name`` of ``shape`` filled with ``value`` (running statistics), in the model's
        float type."""
        shape = declare(name, shape)
        self._require_memory(name, shape, np.dtype(self.ops.dtype).itemsize)
        return self.ops.full(shape, value)

    def _require_memory(self, name: str, shape: tuple, bytes_per_value: int) -> None:
        memory.require(
            math.prod(shape) * bytes_per_value,
            f"{type(self).__name__}: {name} of shape {shape} ({math.prod(shape):,} values)",
            "give the layer smaller sizes",
        )

    def sublayers(self) -> dict[str, Layer]:
        """The layers this layer holds, by name (none; a wrapper holds one)."""
        return {}

    def named_parameters(self) -> dict[str, Parameter]:
        """This layer's Parameters by path ("weights"), then those of the layers it holds ("layer.weights")."""
        params = {n: getattr(self, n) for n in self.param_names} if self.built else {}
        for name, sub in self.sublayers().items():
            params.update({f"{name}.{path}": p for path, p in sub.named_parameters().items()})
        return params

    def parameters(self) -> list[Parameter]:
        """This layer's Parameters, then those of the layers it holds, in a stable order."""
        # (a list, not named_parameters: called every step)
        own = [getattr(self, n) for n in self.param_names] if self.built else []
        held = self.sublayers()
        return own + [p for sub in held.values() for p in sub.parameters()] if held else own

    def states(self) -> list:
        """The non-trainable arrays saved with the model, this layer's and those of the layers it holds."""
        own = [getattr(self, n) for n in self.state_names] if self.built else []
        return own + [s for sub in self.sublayers().values() for s in sub.states()]

    def named_arrays(self) -> dict:
        """Every array saved with the model, by path: "weights", or "layer.weights" in a held layer."""
        arrays = {n: getattr(self, n).data for n in self.param_names} if self.built else {}
        arrays.update({n: getattr(self, n) for n in self.state_names} if self.built else {})
        for name, sub in self.sublayers().items():
            arrays.update({f"{name}.{path}": a for path, a in sub.named_arrays().items()})
        return arrays  # (the same order as get_weights: parameters first within each layer)

    def check_loaded(self) -> None:
        """Once a model file's arrays are in place: a ValueError where they break what this layer assumes (a
        negative variance), so that a forged file fails at load, not at the first predict. The layers it
        holds check theirs."""
        for sub in self.sublayers().values():
            sub.check_loaded()

    def use_ops(self, ops) -> None:
        """Compute with ``ops`` from now on (a model's own), moving this layer's arrays and its layers' there."""
        for n in self.param_names if self.built else ():
            getattr(self, n).move(ops)
        for n in self.state_names if self.built else ():
            setattr(self, n, ops.asarray(getattr(self, n)))
        for sub in self.sublayers().values():
            sub.use_ops(ops)
        self.ops = ops

    def stepwise_problem(self) -> str | None:
        """Why this layer cannot take a sequence a step at a time, each call continuing the steps of the calls
        before (a causal model generating, ``generation.py``), or None where it can: a position-wise layer as
        it is, a layer that holds layers when it says it combines them step by step (``held_stepwise``) and
        each of them can. A layer whose output reads earlier steps keeps them while :meth:`use_cache` is on and
        overrides both (PositionalEmbedding, causal attention)."""
        if self.positionwise:
            return None
        held = self.sublayers()
        if not held:
            return "its output at one step reads other steps of its input, and it keeps no cache of earlier steps"
        if not self.held_stepwise:
            return (
                "it holds layers but does not say that it combines their outputs step by step (held_stepwise), "
                "so a step of its output may read other steps"
            )
        for name, sub in held.items():
            problem = sub.stepwise_problem()
            if problem is not None:
                return f"its layer {name!r} ({type(sub).__name__}) cannot: {problem}"
        return None

    def use_cache(self, on: bool) -> None:
        """Start (True) or end (False) taking a sequence a step at a time: while on, each call continues the
        sequences of the calls before, in inference only; off, the cache is dropped and calls are independent
        again. Nothing to keep for a position-wise layer; a layer that holds layers passes it on."""
        for sub in self.sublayers().values():
            sub.use_cache(on)

    def cached_training_error(self) -> RuntimeError:
        """The error for a training pass while :meth:`use_cache` is on: the cache serves inference only."""
        return RuntimeError(
            f"layer '{self.name}' ({type(self).__name__}) is taking a sequence a step at a time (use_cache(True), "
            "as nn.text.generate does), which serves inference only: call use_cache(False) before training"
        )

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def output_mask(self, mask):
        """Which steps of this layer's last output are real, (batch, time) bools, given its input's ``mask``
        (None: all of them). Embedding makes one from its padding id; a layer that keeps the steps apart
        hands its input's on; any other drops it. The model passes it to the next layer that takes one."""
        return mask if self.keeps_mask else None

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of the output for an input of ``input_shape`` (batch first; it may be None)."""
        return tuple(input_shape)

    def input_shape(self) -> tuple | None:
        """The input shape this layer requires, batch first as None, where the layer fixes it."""
        return None

    def output_activation(self) -> str | None:
        """The name of the function that last shapes this layer's output ("softmax", "relu", "linear"), or None
        where the layer does not say: a loss of probabilities checks a model's last layer with it at compile."""
        return None

    def get_config(self) -> dict:
        """Constructor arguments that rebuild this layer (saved as JSON)."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """The layer :meth:`get_config` describes (a wrapper rebuilds the layer it holds first)."""
        return cls(**config)

    def shape_error(self, expected: str, x) -> ValueError:
        """A clear error naming this layer, the expected and the received shape."""
        return ValueError(
            f"layer '{self.name}' ({type(self).__name__}) expects input of shape {expected}, "
            f"but received shape {tuple(x.shape)}"
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SizedByInput(Layer, abstract=True):
    """A layer whose input size (the attribute ``size_name``: the size of its input's last axis, its features
    or channels) may be left out, the Keras way (``Dense(32)``), and taken from its first input: it makes its
    parameters (``make_parameters``) at once when the size is given, else when it is built."""

    size_name: str  # the attribute holding the input size: "n_inputs", "in_channels"...
    layout = "(batch, ..., features)"  # the inputs it takes, as its messages show them
    rank: int | None = None  # their number of axes (None: two or more)

    def make_parameters(self) -> None:
        """Make the parameters, every size known (the same arrays whichever way the sizes came)."""
        raise NotImplementedError

    def build_if_sized(self) -> None:
        """At the end of the constructor: make the parameters now if the input size was given; else the layer
        waits, unbuilt, for :meth:`build`."""
        self.built = False
        if getattr(self, self.size_name) is not None:
            self.make_parameters()
            self.built = True

    def build(self, input_shape) -> None:
        if self.built:
            return
        setattr(self, self.size_name, self.size_from(input_shape))
        self.make_parameters()
        self.built = True

    def size_from(self, input_shape) -> int:
        """The input size in ``input_shape`` (batch first): its last axis, which must be known; a ValueError
        naming the layer where the shape has not the layer's rank or leaves that axis free."""
        where = f"layer '{self.name}' ({type(self).__name__})"
        if not isinstance(input_shape, (tuple, list)):
            raise ValueError(
                f"{where} is built for the shape of its input, batch first, such as (None, 32); got {input_shape!r}"
            )
        shape = tuple(input_shape)
        if not self.rank_fits(shape):
            raise ValueError(f"{where} takes inputs of shape {self.layout}, not {axes(shape)}")
        size = shape[-1]
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                f"{where} takes its {self.size_name} from the last axis of its input, which is {size!r} in "
                f"{axes(shape)}: give the input's whole shape (nn.Input, input_shape=) or the {self.size_name}"
            )
        return int(size)

    def rank_fits(self, shape: tuple) -> bool:
        """Has a shape (batch first) as many axes as this layer's inputs?"""
        return len(shape) == self.rank if self.rank else len(shape) >= 2

    def check_input_shape(self, input_shape) -> None:
        """A built layer takes inputs of its rank whose last axis is its input size (any leading axes)."""
        size = getattr(self, self.size_name)
        if size is None:
            return  # (build takes the size from the shape and checks it)
        shape = tuple(input_shape)
        if not self.rank_fits(shape) or shape[-1] not in (None, size):
            raise ValueError(f"it takes inputs of shape {self.layout} with {self.size_name} {size}, not {axes(shape)}")


def given_sizes(layer: Layer, positional: tuple, sizes: dict, inferred: tuple[str, ...]) -> dict:
    """The sizes a layer was given, by name. ``sizes`` holds its size keywords in the order of its full
    spelling, None where not given; the ``positional`` arguments fill, in order, the other names of the
    spelling their count makes: every size (``Dense(64, 32)``), or all but the ``inferred`` ones
    (``Dense(32)``), which then stay None until the layer is built for its input. Anything else is an
    ArgumentError naming both spellings."""
    named = [n for n, v in sizes.items() if v is not None]
    short = [n for n in sizes if n not in inferred]
    count = len(positional) + len(named)
    spelling = list(sizes) if count == len(sizes) else short if count == len(short) else []
    free = [n for n in spelling if n not in named]
    if not spelling or len(free) != len(positional):
        cls = type(layer).__name__
        got = ", ".join([*map(repr, positional), *(f"{n}={sizes[n]!r}" for n in named)])
        more = ": give its other arguments by keyword" if len(positional) > len(sizes) else ""
        raise checks.ArgumentError(
            f"{cls} takes its sizes as {cls}({', '.join(short)}), its {', '.join(inferred)} then taken from its "
            f"input, or as {cls}({', '.join(sizes)}); got {cls}({got}){more}"
        )
    return {**sizes, **dict(zip(free, positional))}


def optional_size(value, name: str) -> int | None:
    """A size a layer may take from its input: None (not given), or an int >= 1."""
    return None if value is None else checks.integer(value, name, low=1)


def serialize(layer: Layer) -> dict:
    """How a layer is written in a model file: its class, name and constructor arguments."""
    return {"class": type(layer).__name__, "name": layer.name, "config": layer.get_config()}


def deserialize(spec, where: str = "a layer") -> Layer:
    """The layer a :func:`serialize` spec describes; a ValueError that says where, for anything else."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(spec).__name__}")
    name, config, label = spec.get("class"), spec.get("config"), spec.get("name", None)
    if not isinstance(name, str) or name not in LAYERS:
        raise ValueError(f"{where}: unknown class {name!r}")
    if not isinstance(config, dict) or not isinstance(label, str):
        raise ValueError(f"{where} needs a 'config' object and a 'name' string")
    layer = LAYERS[name].from_config(config)
    layer.name = label
    return layer


def held(spec, name: str) -> Layer:
    """The layer ``name`` a wrapper holds, built from ``spec`` with its arrays' shapes checked under "name."."""
    with within(name):
        return deserialize(spec, f"the layer {name!r} it holds")


def axes(shape: tuple) -> tuple:
    """A shape as a message shows it: "batch" first, "any" on a free axis."""
    return tuple("batch" if i == 0 else "any" if d is None else d for i, d in enumerate(shape))
