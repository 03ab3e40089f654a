"""Convolutions: a small kernel of weights slid over an image (2-D) or a sequence (1-D).

Each output pixel sees only a window of the input and every window uses the
same kernel, so a convolution finds the same pattern wherever it appears,
with far fewer weights than a dense layer.
"""

from __future__ import annotations

from .. import checks
from .. import windows as win
from .base import given_sizes, optional_size
from .weighted import WeightedLayer


def set_geometry(
    layer, sizes, in_channels, out_channels, kernel_size, stride, padding, dilation, limit=checks.LARGEST_INT
):
    """Check and keep what every convolution is given: channels (``in_channels`` None where they are to come
    from the input: ``Conv2D(16, 3)``, see ``given_sizes``), kernel, stride and dilation (at most ``limit``),
    and a padding within the kernel's span."""
    given = {"in_channels": in_channels, "out_channels": out_channels, "kernel_size": kernel_size}
    given = given_sizes(layer, sizes, given, ("in_channels",))
    layer.in_channels = optional_size(given["in_channels"], "in_channels")
    layer.out_channels = checks.integer(given["out_channels"], "out_channels", low=1)
    layer.kernel = layer.pair(given["kernel_size"], "kernel_size")
    layer.stride = layer.pair(stride, "stride", limit)
    layer.dilation = layer.pair(dilation, "dilation", limit)
    win.check_padding(padding, [d * (k - 1) + 1 for k, d in zip(layer.kernel, layer.dilation)])
    layer.padding = padding


def geometry_config(layer) -> dict:
    """What :func:`set_geometry` kept, as the constructor takes it (for a saved config)."""
    return {
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "kernel_size": layer.unpair(layer.kernel),
        "stride": layer.unpair(layer.stride),
        "padding": layer.padding,
        "dilation": layer.unpair(layer.dilation),
    }


class Conv2D(win.ImageAxes, WeightedLayer):
    """2-D convolution over channels-last images.

    Forward:  z[b, i, j, f] = sum_{u, v, c} x_pad[b, i*s + u*d, j*s + v*d, c] * W[u, v, c, f] + bias[f],
              computed as im2col(x_pad) @ W.reshape(k_h * k_w * c_in, c_out);   y = act(z)
    Backward: dW = cols.T @ dz,   dbias = sum(dz),   dx = col2im(dz @ W.T), the padding cut off
              (for stride 1, the same as dz convolved with the kernel turned by 180 degrees)
    Shapes:   x (batch, h, w, in_channels), W (k_h, k_w, in_channels, out_channels),
              y (batch, out_h, out_w, out_channels), out = (h + pad - d (k - 1) - 1) // s + 1.
    ``padding`` is an int (zeros on every side), "valid" (none) or "same"
    (output size ceil(h / s), as in Keras); ``dilation`` spaces the kernel taps.
    ``Conv2D(out_channels, kernel_size)`` takes ``in_channels`` from its input when it is built;
    ``Conv2D(in_channels, out_channels, kernel_size)`` gives them.
    """

    numpy_bound = True  # im2col and col2im copies

    default_name = "conv2d"
    size_name = "in_channels"

    def __init__(
        self,
        *sizes,
        in_channels: int | None = None,
        out_channels: int | None = None,
        kernel_size=None,
        stride=1,
        padding=0,
        dilation=1,
        activation=None,
        **kwargs,
    ) -> None:
        set_geometry(self, sizes, in_channels, out_channels, kernel_size, stride, padding, dilation)
        super().__init__(activation, **kwargs)

    # -- 2-D here; Conv1D overrides these to work on images of height 1 -------------------------
    def weight_shape(self):
        return (*self.kernel, self.in_channels, self.out_channels)

    def fans(self):
        kh, kw = self.kernel
        return kh * kw * self.in_channels, kh * kw * self.out_channels

    def _expected(self) -> str:
        return f"(batch, height, width, {self.in_channels})"

    def _span_text(self, hw) -> str:
        return f"{hw[0]}x{hw[1]}"

    # -- the math -------------------------------------------------------------------------------
    def padding_for(self, h, w):
        """The zero padding ((top, bottom), (left, right)) of an image of h x w pixels."""
        return tuple(
            win.padding_amounts(self.padding, size, k, s, d)
            for size, k, s, d in zip((h, w), self.kernel, self.stride, self.dilation)
        )

    def prepare_input(self, x):
        """Check ``x`` and zero-pad it; keep what the backward pass needs. Returns the padded input as images."""
        if x.ndim != self.rank or x.shape[-1] != self.in_channels:
            raise self.shape_error(self._expected(), x)
        image = self.to_image(x)
        self.pads = self.padding_for(image.shape[1], image.shape[2])
        padded = self.ops.pad(image, self.pads)
        spans = [d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation)]
        if padded.shape[1] < spans[0] or padded.shape[2] < spans[1]:
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}): the kernel spans {self._span_text(spans)} but the "
                f"padded input is only {self._span_text(padded.shape[1:3])}; use a smaller kernel or more padding"
            )
        geometry = zip(padded.shape[1:3], self.kernel, self.stride, self.dilation)
        out_h, out_w = (win.output_size(*axis) for axis in geometry)
        self.padded, self.out_image = padded, (image.shape[0], out_h, out_w, self.out_channels)
        return padded

    def linear(self, x):
        """z = im2col(x_pad) @ W + bias, shaped as the input (images or sequences)."""
        padded = self.prepare_input(x)
        self.cols = self.ops.im2col(padded, self.kernel, self.stride, self.dilation)
        z = self.convolve(self.cols, row=self.out_image[2])
        return self.from_image(z.reshape(self.out_image))

    def convolve(self, cols, row: int):
        """z = cols @ W + bias, one output pixel per row of ``cols`` (rows in any order); ``row``
        consecutive rows make one row of output pixels, along which ``ops.add_bias`` adds."""
        z = cols @ self.weights.data.reshape(-1, self.out_channels)
        return self.ops.add_bias(z, self.biases.data, row=row)

    def backward_linear(self, dz, input_grad: bool = True):
        self.accumulate_gradients(self.cols, dz)
        if not input_grad:
            return None
        return self.input_gradient(dz.reshape(-1, self.out_channels))

    def accumulate_gradients(self, cols, dz) -> None:
        """dW += cols.T @ dz and dbias += sum(dz), with dz's pixels in the order of the rows of ``cols`` and
        shaped (..., pixels of a row, out_channels), the row as :meth:`convolve` was given it."""
        self.weights.accumulate_matmul(cols.T, dz.reshape(-1, self.out_channels))
        self.biases.grad += self.ops.bias_gradient(dz, self.out_channels, row=dz.shape[-2])

    def input_gradient(self, dz):
        """dx from dz (batch * out_h * out_w, out_channels) in image order: :meth:`input_gradient_by_col2im`'s
        sums, taken as a convolution (:meth:`input_gradient_by_convolution`: one im2col and one product instead
        of k_h * k_w products and strided adds) where that is exact and pays: a stride of 1, enough input
        channels for a product of many columns, and a padded dz at most twice dz (bench/RESULTS.md)."""
        pads = self.gradient_padding()
        if pads is None or self.in_channels < 16:
            return self.input_gradient_by_col2im(dz)
        (top, bottom), (left, right) = pads
        _, out_h, out_w, _ = self.out_image
        if (out_h + top + bottom) * (out_w + left + right) > 2 * out_h * out_w:
            return self.input_gradient_by_col2im(dz)
        return self.input_gradient_by_convolution(dz)

    def input_gradient_by_col2im(self, dz):
        """dx = col2im(dz @ W.T), the padding cut off: dcols holds, for each kernel offset, a block (batch,
        out_h, out_w, in_channels) that col2im adds up."""
        weights = self.weights.data.reshape(-1, self.out_channels)
        blocks = self.ops.input_gradient_blocks(dz, weights, self.in_channels, self.out_image)
        dx = self.ops.col2im(blocks, self.padded.shape, self.kernel, self.stride, self.dilation)
        return self.from_image(win.unpad(dx, self.pads))

    def gradient_padding(self):
        """The zero padding of dz, ((top, bottom), (left, right)), that makes the input gradient of a stride-1
        convolution a convolution of dz: the kernel's span less one, less the input's padding on that side.
        None where that does not hold (a stride above 1, or a padding wider than the span less one)."""
        if self.stride != (1, 1):
            return None
        spans = [d * (k - 1) for k, d in zip(self.kernel, self.dilation)]
        pads = tuple((span - before, span - after) for span, (before, after) in zip(spans, self.pads))
        return None if min(min(pair) for pair in pads) < 0 else pads

    def input_gradient_by_convolution(self, dz):
        """For a stride of 1, dx[b, p, q, c] = sum_{u, v, f} dz_pad[b, p + u*d, q + v*d, f] * W[k_h-1-u,
        k_w-1-v, c, f]: dz, padded by :meth:`gradient_padding`, convolved with the kernel turned by 180
        degrees and its channel axes swapped. (Each input pixel gathers from the outputs whose windows saw it,
        as col2im scatters to it.)"""
        image = self.ops.pad(dz.reshape(self.out_image), self.gradient_padding())
        cols = self.ops.im2col(image, self.kernel, self.stride, self.dilation)
        kernel = self.weights.data.reshape(*self.kernel, self.in_channels, self.out_channels)
        turned = kernel[::-1, ::-1].swapaxes(2, 3).reshape(-1, self.in_channels)
        b, h, w, _ = self.padded.shape
        (top, bottom), (left, right) = self.pads
        return self.from_image((cols @ turned).reshape(b, h - top - bottom, w - left - right, self.in_channels))

    def output_shape(self, input_shape):
        out = []
        for size, k, s, d in zip(self._image_sizes(input_shape), self.kernel, self.stride, self.dilation):
            if size is None:
                out.append(None)
                continue
            before, after = win.padding_amounts(self.padding, size, k, s, d)
            out.append(win.output_size(size + before + after, k, s, d))
        return self._shape_from_image(input_shape[0], out, self.out_channels)

    def get_config(self):
        return {**geometry_config(self), **super().get_config()}


class Conv1D(win.SequenceAxes, Conv2D):
    """1-D convolution over sequences (batch, length, channels), e.g. word embeddings.

    Forward:  z[b, i, f] = sum_{u, c} x_pad[b, i*s + u*d, c] * W[u, c, f] + bias[f];  y = act(z)
    Backward: as Conv2D, on the sequence seen as an image of height 1.
    Shapes:   x (batch, length, in_channels), W (k, in_channels, out_channels), y (batch, out_length, out_channels).
    """

    default_name = "conv1d"

    def weight_shape(self):
        return (self.kernel[1], self.in_channels, self.out_channels)

    def padding_for(self, h, w):
        return (0, 0), win.padding_amounts(self.padding, w, self.kernel[1], self.stride[1], self.dilation[1])

    def _expected(self) -> str:
        return f"(batch, length, {self.in_channels})"

    def _span_text(self, hw) -> str:
        return str(hw[1])


class Conv2DTranspose(win.ImageAxes, WeightedLayer):
    """Transposed 2-D convolution, channels-last: the backward pass of a convolution run forwards, so
    that a small image grows into a larger one (a generator's upsampling, "deconvolution").

    Each input pixel scatters a copy of the kernel, scaled by its channels, onto the output at stride s:
    Forward:  full = col2im(x @ W.T) over a frame of (h - 1) s + d (k - 1) + 1 pixels, where
              W.reshape(k_h * k_w * out_channels, in_channels) and col2im adds each kernel offset's block
              at its place; z = full cropped by the padding (and grown by output_padding); y = act(z)
    Backward: dfull = dz placed back in the frame;  dcols = im2col(dfull) (the windows of a convolution);
              dW = dcols.T @ x,  dbias = sum(dz),  dx = dcols @ W
    Shapes:   x (batch, h, w, in_channels), W (k_h, k_w, out_channels, in_channels) (Keras's layout),
              y (batch, out_h, out_w, out_channels) with out = (h - 1) s - 2 p + d (k - 1) + output_padding + 1
              as ``torch.nn.ConvTranspose2d`` for an int ``padding``; "same" gives out = h * s (as Keras),
              "valid" is padding 0.
    Its sizes are spelled as Conv2D's: ``Conv2DTranspose(out_channels, kernel_size)`` or with ``in_channels`` first.
    """

    numpy_bound = True  # col2im and im2col copies

    default_name = "conv2d_transpose"
    size_name = "in_channels"

    def __init__(
        self,
        *sizes,
        in_channels: int | None = None,
        out_channels: int | None = None,
        kernel_size=None,
        stride=1,
        padding=0,
        output_padding=0,
        dilation=1,
        activation=None,
        **kwargs,
    ) -> None:
        set_geometry(self, sizes, in_channels, out_channels, kernel_size, stride, padding, dilation, win.GROWTH_LIMIT)
        pads = output_padding if isinstance(output_padding, (list, tuple)) else (output_padding, output_padding)
        if len(pads) != 2:
            raise checks.ArgumentError(f"output_padding must be an int or a pair of them, got {output_padding!r}")
        # (as PyTorch: less than the stride or the dilation, or it would only add rows of bias)
        self.output_padding = tuple(
            checks.integer(v, "output_padding", low=0, high=max(s, d) - 1)
            for v, s, d in zip(pads, self.stride, self.dilation)
        )
        if padding == "same" and any(self.output_padding):
            raise checks.ArgumentError('output_padding goes with an int padding; "same" fixes the output size')
        super().__init__(activation, **kwargs)

    def weight_shape(self):
        kh, kw = self.kernel
        return (kh, kw, self.out_channels, self.in_channels)

    def fans(self):
        kh, kw = self.kernel
        return kh * kw * self.out_channels, kh * kw * self.in_channels

    def bias_shape(self, weight_shape):
        return (weight_shape[-2],)  # W is (k_h, k_w, out_channels, in_channels)

    def frame(self, h: int, w: int) -> tuple:
        """For an input of h x w: the frame col2im fills, (frame_h, frame_w), and per axis the output's
        (first row of the frame, size)."""
        frame, crops = [], []
        for size, k, st, d, extra in zip((h, w), self.kernel, self.stride, self.dilation, self.output_padding):
            full = (size - 1) * st + d * (k - 1) + 1
            if self.padding == "same":  # the crop a "same" convolution of an image size * st would pad
                top, _ = win.padding_amounts("same", size * st, k, st, d)
                out = size * st
            else:
                top = 0 if self.padding == "valid" else self.padding
                out = full - 2 * top + extra
            frame.append(full)
            crops.append((top, out))
        return tuple(frame), crops

    def linear(self, x):
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise self.shape_error(f"(batch, height, width, {self.in_channels})", x)
        b, h, w, _ = x.shape
        (frame_h, frame_w), crops = self.frame(h, w)
        if any(out < 1 for _, out in crops):
            raise ValueError(
                f"layer '{self.name}' (Conv2DTranspose): padding {self.padding!r} leaves no output for an "
                f"input of {h}x{w}; use less padding"
            )
        self.x, self.crops, self.frame_shape = x, crops, (b, frame_h, frame_w, self.out_channels)
        kh, kw = self.kernel
        cols = x.reshape(-1, self.in_channels) @ self.weights.data.reshape(-1, self.in_channels).T
        blocks = cols.reshape(b, h, w, kh * kw, self.out_channels).transpose(3, 0, 1, 2, 4)
        full = self.ops.col2im(blocks, self.frame_shape, self.kernel, self.stride, self.dilation)
        (top, out_h), (left, out_w) = crops
        z = self.ops.zeros((b, out_h, out_w, self.out_channels), x.dtype)
        inside = self._inside(crops)
        z[:, : inside[0], : inside[1]] = full[:, top : top + inside[0], left : left + inside[1]]
        self.ops.add_bias(z.reshape(-1, self.out_channels), self.biases.data, row=out_w)
        return z

    def _inside(self, crops) -> tuple:
        """How many output rows and columns lie inside the frame (output_padding adds some beyond it)."""
        return tuple(min(out, full - top) for (top, out), full in zip(crops, self.frame_shape[1:3]))

    def backward_linear(self, dz, input_grad: bool = True):
        (top, out_h), (left, out_w) = self.crops
        inside = self._inside(self.crops)
        dfull = self.ops.zeros(self.frame_shape, dz.dtype)
        dfull[:, top : top + inside[0], left : left + inside[1]] = dz[:, : inside[0], : inside[1]]
        dcols = self.ops.im2col(dfull, self.kernel, self.stride, self.dilation)  # (b * h * w, k_h k_w c_out)
        x2 = self.x.reshape(-1, self.in_channels)
        self.weights.accumulate_matmul(dcols.T, x2)
        self.biases.grad += self.ops.bias_gradient(dz, self.out_channels, row=out_w)
        if not input_grad:
            return None
        return (dcols @ self.weights.data.reshape(-1, self.in_channels)).reshape(self.x.shape)

    def output_shape(self, input_shape):
        h, w = self._image_sizes(input_shape)
        if h is None or w is None:
            return (input_shape[0], None, None, self.out_channels)
        _, crops = self.frame(h, w)
        return (input_shape[0], crops[0][1], crops[1][1], self.out_channels)

    def get_config(self):
        return {**geometry_config(self), "output_padding": list(self.output_padding), **super().get_config()}
