"""The training doctor: a few statistics of a network as it trains, and the rules that name what is wrong.

Once an epoch, on its first batch, the doctor looks at the training step the model took anyway (nothing is
computed twice): through ``model.watchers`` it is shown the batch's inputs and every layer's outputs as the
forward pass makes them, and after the step it reads each layer's gradient and how far the update moved its
weights. At the epoch's end it compares the loss with chance and with the validation loss. The statistics:

- the inputs' scale: their root mean square, sqrt(mean(x^2));
- for each ReLU layer, the share of its units (features, channels) that gave 0 for every sample of the batch
  (a dead ReLU passes no gradient, so it never comes back); for each sigmoid or tanh layer, the share of its
  outputs within 0.01 of the ends of its range (saturated: its derivative there is near 0);
- for each layer with weights, its gradient relative to its weights, ||dL/dW|| / ||W||, and the update's,
  ||W_after - W_before|| / ||W||, over all its parameters (a healthy step moves the weights by about 0.1%);
- the loss against chance: a classifier that guesses all k classes alike has the cross-entropy ln(k).

The rules, in the order a cause comes before what it causes: ``unscaled_inputs``, ``learning_rate_too_high``
(the loss diverged, or one update moved a layer's weights by a large share of their size and the loss is
clearly above chance or rising),
``exploding_gradients`` (the gradient grows by orders of magnitude from the last layer to the first, or since
the first epoch), ``dead_relu``, ``vanishing_gradients`` (saturated sigmoid/tanh layers, or a first layer whose
relative gradient is orders of magnitude below the last one's), ``not_learning`` (the training loss still at
chance), ``overfitting`` (the validation loss rising while the training loss falls). Once one is found, the
rules after it are not asked: what a cause brings about (a network of dead ReLUs learns nothing) is not named
as a problem of its own; fix the first finding and train again. Each finding (a code and a layer) is
recorded and printed once.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from . import checks, losses, process

CODES = (
    "unscaled_inputs",
    "learning_rate_too_high",
    "exploding_gradients",
    "dead_relu",
    "vanishing_gradients",
    "not_learning",
    "overfitting",
)
INPUT_SCALE = 10.0  # inputs with a larger root mean square are not standardised
UPDATE_SHARE = 0.1  # one step moving a layer's weights by more than this share of their size
RISE = 1.1  # a training loss this many times the last epoch's, or chance's
EXPLODING = 1e3  # the gradient (relative to the weights) of the first layer over the last's, or now over at first
VANISHING = 1e-3  # the first layer's relative gradient over the last layer's
DEAD_SHARE = 0.75  # ReLU units silent for a whole batch (a healthy layer may have many: a unit may serve few classes)
SATURATED_SHARE = 0.5  # sigmoid or tanh outputs within SATURATED of the ends of their range
SATURATED = 0.01
CHANCE_SHARE = 0.95  # a training loss still above this share of chance after LEARNING_EPOCHS epochs
LEARNING_EPOCHS = 2
OVERFIT_RISE = 1.2  # the validation loss this many times its lowest, OVERFIT_EPOCHS epochs after it
OVERFIT_EPOCHS = 2


class Doctor:
    """The hooks of ``nn.callbacks.TrainingDoctor`` (see the module's docstring): ``findings`` is a list of
    dicts with keys ``epoch``, ``code``, ``layer`` (a layer's name or None) and ``message``; ``statistics``
    holds each epoch's numbers (``"inputs_rms"``, ``"loss"``, and per layer ``"dead"``, ``"saturated"``,
    ``"gradient"``, ``"update"``). ``verbose=0`` records without printing."""

    changes_training = False  # it only watches

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = checks.verbosity(verbose)
        self.findings: list[dict] = []
        self.statistics: list[dict] = []
        self.adding = threading.Lock()  # (watch runs in every part's thread of a split batch)

    def set_model(self, model) -> None:
        if not hasattr(model, "watchers"):
            raise checks.ArgumentError(
                f"TrainingDoctor watches a Model or a Sequential learning from targets; it was given a "
                f"{type(model).__name__}"
            )
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.findings, self.statistics = [], []
        self.seen: set[tuple[str, str | None]] = set()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = {"epoch": epoch, "inputs": [0.0, 0], "layers": {}}
        self.before = [self.model.ops.to_numpy(p.data).copy() for p in self.model.parameters()]
        self.watching = True
        self.model.watchers.append(self.watch)

    def watch(self, stage, value) -> None:
        """Shown by the model's forward pass of the epoch's first batch: the inputs (stage None) and each stage's
        output. A batch split over threads shows each part, from the parts' threads at once: each computes its
        numbers alone, then adds them to the epoch's under a lock."""
        if stage is None:
            if value.dtype.kind == "f":  # (token ids are no scale)
                squares = float((value.astype(np.float64) ** 2).sum())
                with self.adding:
                    self.epoch["inputs"][0] += squares
                    self.epoch["inputs"][1] += value.size
            return
        if getattr(stage, "name", None) == self.model.graph.outputs[0].layer.name:
            self.epoch["classes"] = value.shape[-1] if value.ndim > 1 else 1  # (for the loss of chance)
        layer, kind = _activation(stage)
        if kind not in ("relu", "sigmoid", "tanh") or value.size == 0:
            return
        if kind == "relu":  # a unit is a feature or channel: the last axis
            fired = self.model.ops.to_numpy((value > 0).any(axis=tuple(range(value.ndim - 1))))
            with self.adding:
                stats = self.epoch["layers"].setdefault(layer.name, {})
                stats["fired"] = fired | stats["fired"] if "fired" in stats else fired
        else:
            low, high = (0.0, 1.0) if kind == "sigmoid" else (-1.0, 1.0)
            ends = float(((value < low + SATURATED * (high - low)) | (value > high - SATURATED * (high - low))).sum())
            with self.adding:
                stats = self.epoch["layers"].setdefault(layer.name, {})
                count, total = stats.get("ends", (0.0, 0))
                stats["ends"] = (count + ends, total + value.size)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self.watching:  # (every batch after the first: nothing to do)
            return
        self.watching = False
        self.model.watchers.remove(self.watch)
        params = iter(zip(self.model.parameters(), self.before))
        for layer in self.model.layers:
            weights = gradient = update = 0.0
            for p, before in (next(params) for _ in layer.parameters()):
                data = self.model.ops.to_numpy(p.data).astype(np.float64)
                weights += float((data**2).sum())
                gradient += float((self.model.ops.to_numpy(p.grad).astype(np.float64) ** 2).sum())
                update += float(((data - before) ** 2).sum())
            if weights > 0:
                stats = self.epoch["layers"].setdefault(layer.name, {})
                stats["gradient"] = math.sqrt(gradient / weights)
                stats["update"] = math.sqrt(update / weights)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.watching:  # (the first batch diverged: no step to read)
            self.watching = False
            self.model.watchers.remove(self.watch)
        logs = logs or {}
        squares, count = self.epoch.pop("inputs")
        stats = {"epoch": epoch, "inputs_rms": math.sqrt(squares / count) if count else None}
        stats["loss"], stats["val_loss"] = logs.get("loss", math.nan), logs.get("val_loss")
        stats["classes"] = self.epoch.get("classes")
        stats["layers"] = {}
        for name, layer in self.epoch["layers"].items():
            kept = {k: v for k, v in layer.items() if k in ("gradient", "update")}
            if "fired" in layer:
                kept["dead"] = 1.0 - float(layer["fired"].mean())
            if "ends" in layer:
                kept["saturated"] = layer["ends"][0] / layer["ends"][1]
            stats["layers"][name] = kept
        self.statistics.append(stats)
        for code, layer, message in self.diagnose():
            self.record(epoch, code, layer, message)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.verbose and not self.findings and process.is_writer():
            print("TrainingDoctor: no findings")

    def record(self, epoch: int, code: str, layer: str | None, message: str) -> None:
        """Add a finding, unless it was found before; print it (on the writing process)."""
        if (code, layer) in self.seen:
            return
        self.seen.add((code, layer))
        self.findings.append({"epoch": epoch, "code": code, "layer": layer, "message": message})
        if self.verbose and process.is_writer():
            where = f" in {layer}" if layer else ""
            print(f"TrainingDoctor, epoch {epoch + 1}: {code}{where}: {message}")

    # -- the rules ---------------------------------------------------------------------------------------
    def diagnose(self) -> list[tuple[str, str | None, str]]:
        """This epoch's findings (code, layer, message): those of the first rule, in the module's order, that
        finds anything now or found something before."""
        found_before = {f["code"] for f in self.findings}
        for code, rule in zip(CODES, self.rules()):
            found = list(rule())
            if found or code in found_before:
                return found
        return []

    def rules(self):
        return (
            self.unscaled_inputs,
            self.learning_rate_too_high,
            self.exploding_gradients,
            self.dead_relu,
            self.vanishing_gradients,
            self.not_learning,
            self.overfitting,
        )

    def weighted(self, stats: dict) -> list[tuple[str, dict]]:
        """The layers whose gradient and update were read, first to last."""
        return [(name, layer) for name, layer in stats["layers"].items() if "gradient" in layer]

    def unscaled_inputs(self):
        rms = self.statistics[-1]["inputs_rms"]
        if rms is not None and rms > INPUT_SCALE:
            yield (
                "unscaled_inputs",
                None,
                f"the inputs' root mean square is {rms:.3g}, where a network learns best from features of mean 0 "
                "and standard deviation 1: standardise them (nn.data.StandardScaler) before training",
            )

    def learning_rate_too_high(self):
        stats = self.statistics[-1]
        if not math.isfinite(stats["loss"]):
            yield (
                "learning_rate_too_high",
                None,
                f"the training loss became {stats['loss']}: the steps overshoot; lower the learning rate "
                "(10 times lower, or the rate model.find_learning_rate suggests)",
            )
            return
        moved = [(layer["update"], name) for name, layer in self.weighted(stats)]
        if not moved or max(moved)[0] <= UPDATE_SHARE:
            return
        # large steps alone are no fault (Adam's first steps move small weights, an embedding's, by a large share):
        # steps that overshoot leave the loss clearly above chance (a first epoch may end at chance), or raise it
        chance, before = self.chance(), self.statistics[-2]["loss"] if len(self.statistics) > 1 else math.inf
        above = chance is not None and stats["loss"] > RISE * chance
        if above or stats["loss"] > RISE * before:
            share, name = max(moved)
            yield (
                "learning_rate_too_high",
                name,
                f"one update moved {name}'s weights by {share:.0%} of their size (a healthy step moves them "
                f"about 0.1%) and the training loss is {stats['loss']:.3f}, "
                + (f"above chance ({chance:.3f})" if above else "higher than before")
                + ": lower the learning rate (10 times lower, or the rate model.find_learning_rate suggests)",
            )

    def exploding_gradients(self):
        layers = self.weighted(self.statistics[-1])
        if not layers:
            return
        (first, a), (_, z) = layers[0], layers[-1]
        start = self.weighted(self.statistics[0])
        grown = a["gradient"] / start[0][1]["gradient"] if start and start[0][1]["gradient"] > 0 else 1.0
        if not math.isfinite(a["gradient"]) or a["gradient"] > EXPLODING * z["gradient"] or grown > EXPLODING:
            yield (
                "exploding_gradients",
                first,
                f"{first}'s gradient, relative to its weights, is {a['gradient']:.3g} ({grown:.3g} times what "
                "it was in the first epoch): clip the gradients (e.g. optimizers.Adam(clipnorm=1.0)), or add "
                "normalisation layers",
            )

    def dead_relu(self):
        for name, layer in self.statistics[-1]["layers"].items():
            if layer.get("dead", 0.0) > DEAD_SHARE:
                yield (
                    "dead_relu",
                    name,
                    f"{layer['dead']:.0%} of {name}'s ReLUs gave 0 for every sample of a batch, so they pass no "
                    "gradient and cannot recover: check the biases and the initialisation (He), lower the "
                    "learning rate, or use LeakyReLU",
                )

    def vanishing_gradients(self):
        stats = self.statistics[-1]
        found = False
        for name, layer in stats["layers"].items():
            if layer.get("saturated", 0.0) > SATURATED_SHARE:
                found = True
                yield (
                    "vanishing_gradients",
                    name,
                    f"{layer['saturated']:.0%} of {name}'s outputs are saturated (at the ends of their range, "
                    "where the derivative is near 0): scale the inputs, or use ReLU with He initialisation",
                )
        layers = self.weighted(stats)
        if found or len(layers) < 2:
            return
        (first, a), (_, z) = layers[0], layers[-1]
        if z["gradient"] > 0 and a["gradient"] < VANISHING * z["gradient"]:
            yield (
                "vanishing_gradients",
                first,
                f"{first}'s gradient, relative to its weights, is {a['gradient'] / z['gradient']:.1e} times the "
                "last layer's, so the first layers barely learn: use ReLU activations (He initialisation), "
                "fewer layers, batch normalisation or residual connections",
            )

    def not_learning(self):
        stats, chance = self.statistics[-1], self.chance()
        if chance is None or stats["epoch"] + 1 < LEARNING_EPOCHS or stats["loss"] < CHANCE_SHARE * chance:
            return
        yield (
            "not_learning",
            None,
            f"after {stats['epoch'] + 1} epochs the training loss {stats['loss']:.3f} is still at chance "
            f"({chance:.3f}, what guessing every class alike gives): check that each label belongs to its "
            "input (were they shuffled apart?), then try a higher learning rate",
        )

    def overfitting(self):
        val = [s["val_loss"] for s in self.statistics]
        if val[-1] is None or not all(v is not None and math.isfinite(v) for v in val):
            return
        best = int(np.argmin(val))
        now = self.statistics[-1]
        if (
            len(val) - 1 - best >= OVERFIT_EPOCHS
            and val[-1] > OVERFIT_RISE * val[best]
            and now["loss"] < self.statistics[best]["loss"]
        ):
            yield (
                "overfitting",
                None,
                f"the validation loss rose from {val[best]:.3f} (epoch {best + 1}) to {val[-1]:.3f} while the "
                f"training loss fell to {now['loss']:.3f}: the network learns its training samples by heart; "
                "stop earlier (callbacks.EarlyStopping), add dropout or weight decay, or get more data",
            )

    def chance(self) -> float | None:
        """The loss of guessing all classes alike, ln(k), for a cross-entropy loss (None for others)."""
        model = self.model
        if not isinstance(model.loss, (losses.CategoricalCrossentropy, losses.BinaryCrossentropy)):
            return None
        width = self.statistics[-1]["classes"]
        return math.log(width) if width is not None and width > 1 else math.log(2.0)


def _activation(stage):
    """The layer whose activation last shaped ``stage``'s output, and that activation's name ("relu", ...)."""
    for layer in reversed(getattr(stage, "layers", None) or [stage]):
        kind = layer.output_activation()
        if kind not in (None, "linear"):
            return layer, kind
    return stage, None
