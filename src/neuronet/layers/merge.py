"""Merge layers: where the branches of a graph model meet, several values joined into one.

A residual block adds its input to its output (``Add()([x, h])``); a model
that reads an image and a table puts their features side by side
(``Concatenate()([a, b])``). A merge layer takes a list of arrays and gives
one; its backward pass gives a list of gradients, one for each input, in
order.

As in Keras, the element-wise merges take inputs of one shape, and
Concatenate inputs of one shape except on its axis; a free axis (None) fits
any size. There is no broadcasting: a (batch, 1) input beside a (batch, 4)
one is an error, not a silent stretch (write the repeat as a layer).

A sequence's mask (which steps are real, ``Layer.output_mask``) goes
through: where the inputs are joined step by step, a step is real where it is
real in every input that has a mask; Concatenate on the time axis puts the
masks one after the other.
"""

from __future__ import annotations

from .. import checks
from .base import Layer, axes


class Merge(Layer, abstract=True):
    """What the merge layers share: the list of inputs checked (how many, their shapes), the output's shape
    and its mask. Each merge writes its forward and backward passes."""

    takes_list = True
    keeps_mask = True  # the inputs' masks are merged (output_mask)
    positionwise = True  # element-wise (Concatenate: unless on the time axis)
    exact_inputs: int | None = None  # how many inputs it takes; None: any number from 2 up
    rule = "inputs of one shape (no broadcasting; a free axis fits any size)"

    def checked(self, xs) -> list:
        """``xs`` if it is a list of arrays this layer can join, else a ValueError naming the layer."""
        where = f"layer '{self.name}' ({type(self).__name__})"
        if not isinstance(xs, (list, tuple)):
            raise checks.ArgumentError(
                f"{where} takes a list of arrays, e.g. {type(self).__name__}()([a, b]), got {type(xs).__name__}"
            )
        stray = [f"input {i} is a {type(x).__name__}" for i, x in enumerate(xs) if not hasattr(x, "shape")]
        if stray:
            raise checks.ArgumentError(f"{where} takes a list of arrays, but {', '.join(stray)}")
        try:
            self.check_input_shape([tuple(x.shape) for x in xs])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return list(xs)

    def check_input_shape(self, input_shape: list) -> None:
        """A ValueError, saying which inputs do not fit, where this layer cannot join inputs of these shapes."""
        self.output_shape(input_shape)

    def output_shape(self, input_shape: list) -> tuple:
        shapes = self.counted(input_shape)
        same_rank(shapes)
        return tuple(agreed(shapes, self.rule))

    def counted(self, shapes) -> list:
        """``shapes``, checked to be a list of as many shapes as this layer takes."""
        if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(f"it takes a list of shapes, one for each input, got {shapes!r}")
        if self.exact_inputs is None and len(shapes) < 2:
            raise ValueError(f"it joins 2 or more inputs, got {len(shapes)}")
        if self.exact_inputs is not None and len(shapes) != self.exact_inputs:
            raise ValueError(f"it takes exactly {self.exact_inputs} inputs, got {len(shapes)}")
        return [tuple(s) for s in shapes]

    def output_mask(self, masks: list):
        """Given each input's mask (None: all of its steps real), the output's: a step is real where it is real
        in every input that has a mask; None where none has one."""
        present = [m for m in masks if m is not None]
        return fold(self.ops.xp.logical_and, present) if present else None


class Add(Merge):
    """Forward: y = x_1 + x_2 + ... + x_n.   Backward: dx_i = dy for every i.

    The gradients are dy itself, the one array for every input: callers must not modify them in place (the
    graph model adds gradients out of place, g = g + dx).
    """

    default_name = "add"

    def forward(self, xs, training=False):
        xs = self.checked(xs)
        self.count = len(xs)
        return fold(self.ops.xp.add, xs)

    def backward(self, dy):
        return [dy] * self.count


class Subtract(Merge):
    """Forward: y = x_1 - x_2 (exactly two inputs).   Backward: dx_1 = dy, dx_2 = -dy.

    dx_1 is dy itself: callers must not modify it in place (see Add).
    """

    default_name = "subtract"
    exact_inputs = 2

    def forward(self, xs, training=False):
        x1, x2 = self.checked(xs)
        return x1 - x2

    def backward(self, dy):
        return [dy, -dy]


class Multiply(Merge):
    """Forward: y = x_1 * x_2 * ... * x_n.   Backward: dx_i = dy * (the product of every x_j but x_i)."""

    default_name = "multiply"

    def forward(self, xs, training=False):
        self.xs = self.checked(xs)
        return fold(self.ops.xp.multiply, self.xs)

    def backward(self, dy):
        xs, mul = self.xs, self.ops.xp.multiply
        # (no division y / x_i: it fails where x_i is 0)
        return [fold(mul, [dy, *xs[:i], *xs[i + 1 :]]) for i in range(len(xs))]


class Average(Merge):
    """Forward: y = (x_1 + x_2 + ... + x_n) / n.   Backward: dx_i = dy / n for every i.

    The gradients are one array for every input: callers must not modify them in place (see Add).
    """

    default_name = "average"

    def forward(self, xs, training=False):
        xs = self.checked(xs)
        self.count = len(xs)
        y = fold(self.ops.xp.add, xs)
        y /= self.count  # (in place: y is new; an int keeps the float type)
        return y

    def backward(self, dy):
        return [dy / self.count] * self.count


class Concatenate(Merge):
    """Forward: y = [x_1, x_2, ..., x_n] side by side on ``axis`` (batch first: axis 1 of (batch, time,
    features) is time, -1 the features; the batch axis cannot be one).
    Backward: dx_i = the part of dy on that axis where x_i went (views of dy: callers must not modify them in
    place, see Add).

    Mask: on the time axis the inputs' masks one after the other (an input without one counts as all real);
    on another axis, a step is real where it is real in every input that has a mask.
    """

    default_name = "concatenate"
    rule = "inputs of one shape except on the axis they are concatenated on (a free axis fits any size)"

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = checks.integer(axis, "Concatenate axis", low=-checks.LARGEST_INT)
        if self.axis == 0:
            raise checks.ArgumentError("Concatenate axis cannot be 0, the batch: give 1 or more, or -1 (the last)")
        # joined on the features (-1, or 2 and up), each step alone; on axis 1, the time of a sequence, not
        self.positionwise = self.axis == -1 or self.axis >= 2

    def forward(self, xs, training=False):
        xs = self.checked(xs)
        self.along = self.axis % xs[0].ndim  # (checked: the axis exists and is not the batch)
        self.sizes = [x.shape[self.along] for x in xs]
        return self.ops.xp.concatenate(xs, axis=self.along)

    def backward(self, dy):
        part = [slice(None)] * dy.ndim
        grads, start = [], 0
        for size in self.sizes:
            part[self.along] = slice(start, start + size)
            grads.append(dy[tuple(part)])
            start += size
        return grads

    def output_shape(self, input_shape: list) -> tuple:
        shapes = self.counted(input_shape)
        rank = same_rank(shapes)
        if not -rank < self.axis < rank or self.axis % rank == 0:
            allowed = {1: "they have no axis but the batch", 2: "give 1 or -1"}
            raise ValueError(
                f"axis {self.axis} is out of range for inputs of shape {axes(shapes[0])}: "
                + allowed.get(rank, f"give one of 1..{rank - 1} or -{rank - 1}..-1 (0 is the batch)")
            )
        along = self.axis % rank
        merged = agreed(shapes, self.rule, skip=along)
        sizes = [s[along] for s in shapes]
        merged[along] = None if None in sizes else sum(sizes)
        return tuple(merged)

    def output_mask(self, masks: list):
        if self.along != 1:  # features (or any axis past time): the steps line up as in the element-wise merges
            return super().output_mask(masks)
        present = [m for m in masks if m is not None]
        if not present:
            return None
        xp, batch = self.ops.xp, present[0].shape[0]
        every = [xp.ones((batch, size), dtype=bool) if m is None else m for m, size in zip(masks, self.sizes)]
        return xp.concatenate(every, axis=1)

    def get_config(self):
        return {"axis": self.axis}


def fold(ufunc, xs: list):
    """ufunc(...ufunc(ufunc(x_1, x_2), x_3)..., x_n) for an element-wise ufunc (add, multiply): one new array,
    made by the first step and written into by the rest (the inputs are left alone); x_1 itself for one."""
    if len(xs) == 1:
        return xs[0]
    y = ufunc(xs[0], xs[1])
    for x in xs[2:]:
        ufunc(y, x, out=y)
    return y


def same_rank(shapes: list) -> int:
    """The number of axes every shape has, or a ValueError naming the first input with another."""
    rank = len(shapes[0])
    for i, s in enumerate(shapes):
        if len(s) != rank:
            raise ValueError(
                f"input {i} has shape {axes(s)} where input 0 has {axes(shapes[0])}: they differ in their number "
                "of axes"
            )
    return rank


def agreed(shapes: list, rule: str, skip: int | None = None) -> list:
    """The shape every one of ``shapes`` (of one rank) fits, axis ``skip`` aside: on each axis the size the
    inputs give, None where all are free; a ValueError naming the first input that differs from one before."""
    merged, source = list(shapes[0]), [0] * len(shapes[0])  # the size on each axis, and the input that gave it
    for i, s in enumerate(shapes[1:], 1):
        for a, d in enumerate(s):
            if a == skip or d is None:
                continue
            if merged[a] is None:
                merged[a], source[a] = d, i
            elif merged[a] != d:
                j = source[a]
                raise ValueError(
                    f"it takes {rule}, but input {i} has shape {axes(s)} where input {j} has {axes(shapes[j])}: "
                    f"axis {a}{' (the batch)' if a == 0 else ''} is {d}, not {merged[a]}"
                )
    return merged
