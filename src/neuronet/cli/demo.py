"""`neuronet demo`: a network trained on bundled data (no download), then scored on test data it never saw.

    neuronet demo [dense|cnn|text|forecast|gan|resnet|writer]   (demo text --model cnn|lstm|gru|transformer)

The networks themselves are the library's (``neuronet.demos``); this module loads and splits the data,
trains, and reports: test scores, a picture where one helps, and for the text demo predictions of a few
sentences (a model saved with ``--out`` classifies more with ``neuronet predict-text``).
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np

from .. import callbacks, datasets, demos, losses, optimizers, plot, schedules, text
from ..data import sliding_windows, train_val_test_split
from ..layers import TransformerEncoder
from ..layers.conv import Conv2D
from ..metrics import accuracy, classification_report, f1_score, precision, recall
from ..saving import model_path
from ..sequential import Sequential
from ..settings import set_seed
from ..text import Tokenizer, pad_sequences
from .arguments import CLIError, check_writable
from .text import TextSettings, print_predictions


def _digits_split(seed: int, images: bool):
    X, y = datasets.load_digits()
    X = X / 16.0  # pixels 0..16 -> 0..1
    if images:
        X = X.reshape(-1, 8, 8, 1)
    return train_val_test_split(X, y, val_size=0.1, test_size=0.2, stratify=True, seed=seed)


def _report_classifier(model: Sequential, x, y, what: str) -> None:
    predicted = model.predict(x)
    print(f"test accuracy: {accuracy(y, predicted):.2%} ({len(y)} {what} the network never saw)")
    scores = {
        name: fn(y, predicted, average="macro")
        for name, fn in (("precision", precision), ("recall", recall), ("F1", f1_score))
    }
    print("macro-averaged " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    print(classification_report(y, predicted))


def _demo_dense(args):
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=False)
    print(f"8x8 handwritten digits as 64 pixels: {len(xt)} training, {len(xv)} validation, {len(xs)} test images")
    model = demos.digits_mlp()
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.005), metrics=["accuracy"])
    return model, (xt, yt), (xv, yv), (xs, ys), functools.partial(_report_classifier, what="digits")


def _demo_cnn(args):
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=True)
    print(f"8x8 handwritten digits as images: {len(xt)} training, {len(xv)} validation, {len(xs)} test images")
    model = demos.digits_cnn()
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.003), metrics=["accuracy"])

    def report(model, xs, ys):
        _report_classifier(model, xs, ys, "digits")
        if args.plot:
            _cnn_pictures(model, xs, ys, os.path.dirname(args.plot))

    return model, (xt, yt), (xv, yv), (xs, ys), report


CNN_PICTURES = {  # --plot of demo cnn, beside the training curves
    "filters": "demo_cnn_filters.png",
    "activations": "demo_cnn_activations.png",
    "saliency": "demo_cnn_saliency.png",
    "gradients": "demo_cnn_gradients.png",
    "diagram": "demo_cnn_model.svg",
}


def _cnn_pictures(model, xs, ys, folder: str) -> None:
    """What the trained CNN learned, drawn in ``folder``: its first convolution's filters, the maps its
    convolutions make of a test digit, the saliency of eight test digits, each layer's gradient on a test
    batch, and its diagram."""
    paths = {what: os.path.join(folder, name) for what, name in CNN_PICTURES.items()}
    first = next(layer for layer in model.layers if isinstance(layer, Conv2D))
    plot.conv_filters(first, paths["filters"])
    plot.activation_maps(model, xs[0], paths["activations"])
    plot.saliency(model, xs[:8], paths["saliency"])
    plot.gradient_norms(model, xs[:256], ys[:256], paths["gradients"])
    plot.model_diagram(model, paths["diagram"])
    print("what the network learned: " + ", ".join(paths.values()))


TEXT_LENGTH = 12  # tokens per review after padding


def _demo_text(args):
    texts, y = datasets.sentiment(3000, seed=args.seed)
    cut, val = 2100, 2400
    tokenizer = Tokenizer().fit(texts[:cut])
    X = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=TEXT_LENGTH)
    print(f"{len(texts)} short film reviews (1 positive, 0 negative), e.g. {texts[0]!r} -> {y[0]}")
    print(f"vocabulary of {tokenizer.vocab_size} ids; each review padded to {TEXT_LENGTH} tokens")
    kind = args.model or "cnn"
    print(f"the network: {TEXT_MODELS[kind]}")
    if kind == "cnn":
        model = demos.sentiment_cnn(tokenizer.vocab_size, TEXT_LENGTH)
    elif kind == "transformer":
        model = demos.sentiment_transformer(tokenizer.vocab_size, TEXT_LENGTH)
    else:
        model = demos.sentiment_rnn(tokenizer.vocab_size, TEXT_LENGTH, kind)
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.005), metrics=["accuracy"])
    model.metadata = TextSettings(tokenizer, TEXT_LENGTH, ["negative", "positive"]).to_metadata()
    report = functools.partial(_report_classifier, what="reviews")
    return model, (X[:cut], y[:cut]), (X[cut:val], y[cut:val]), (X[val:], y[val:]), report


TEXT_MODELS = {
    "cnn": "a convolution over 3 words at a time, then the strongest of each feature",
    "lstm": "an LSTM reading the words in order (padding skipped), its last state classified",
    "gru": "a GRU reading the words in order (padding skipped), its last state classified",
    "transformer": "word vectors and positions, a Transformer encoder block (every word attends to the others, "
    "padding to none), the mean over the words classified",
}
FORECAST_LOOKBACK, FORECAST_TEST, FORECAST_VAL = 24, 120, 48  # months read; months tested and validated on
FORECAST_PICTURE = "demo_forecast.png"
CURVES_PICTURE = "demo_curves.png"  # --plot's picture, but for the forecast demo's


def _demo_forecast(args):
    """One-step-ahead forecasts of monthly CO2: each window of 24 months, as changes from its last month
    (so the network sees the shape of the last two years, not a level it never met in training), gives the
    change to the next month."""
    dates, ppm = datasets.co2()
    x, y = sliding_windows(ppm, FORECAST_LOOKBACK)
    last, target = x[:, -1, 0], y[:, 0]
    month = np.arange(FORECAST_LOOKBACK, len(ppm))  # the month each window forecasts
    test = month >= len(ppm) - FORECAST_TEST
    val = ~test & (month >= len(ppm) - FORECAST_TEST - FORECAST_VAL)
    train = ~test & ~val
    scale = float(np.diff(ppm[: month[train][-1] + 1]).std())  # a typical month-to-month change, from training
    X = (x - last[:, None, None]) / scale
    Y = ((target - last) / scale)[:, None]
    print(
        f"Mauna Loa CO2, monthly means {dates[0]}..{dates[-1]} ({len(ppm)} months, ppm); the network reads "
        f"{FORECAST_LOOKBACK} months and forecasts the next"
    )
    for name, part in (("training", train), ("validation", val), ("test", test)):
        print(f"{name:>10}: forecasts of {dates[month[part][0]]}..{dates[month[part][-1]]} ({part.sum()} months)")
    model = demos.co2_lstm(FORECAST_LOOKBACK)
    model.compile(loss=losses.MeanSquaredError(), optimizer=optimizers.Adam(0.005))
    model.metadata = {"task": "forecast", "lookback": FORECAST_LOOKBACK, "scale": scale}

    def report(model, xs, ys):
        truth = target[test]
        forecasts = {
            "LSTM": model.predict(xs)[:, 0] * scale + last[test],
            "persistence (last month)": last[test],
            "seasonal naive (a year before)": ppm[month[test] - 12],
        }
        print(f"test error over {dates[month[test][0]]}..{dates[month[test][-1]]}, ppm:")
        print(f"  {'':32}{'MAE':>8}{'RMSE':>8}")
        for name, values in forecasts.items():
            error = values - truth
            print(f"  {name:32}{np.abs(error).mean():8.3f}{np.sqrt((error**2).mean()):8.3f}")
        path = args.plot or FORECAST_PICTURE
        try:
            plot.require_matplotlib()
        except ImportError as exc:
            print(f"no picture of the forecast: {exc}")
            return
        times = dates[month[test]]
        shown = {name: (times, values) for name, values in list(forecasts.items())[:2]}
        title = "Mauna Loa CO2: one-month-ahead forecasts over the test years"
        recent = slice(-FORECAST_TEST - 24, None)  # the test years and the two before them
        plot.forecast(dates[recent], ppm[recent], shown, path, start=times[0], ylabel="CO2 (ppm)", title=title)
        print(f"forecast against truth written to {path}")

    return model, (X[train], Y[train]), (X[val], Y[val]), (X[test], Y[test]), report


GAN_PICTURE, GAN_GRIDS = "demo_gan.png", "demo_gan_epoch{epoch:03d}.png"  # the last samples; those on the way
GAN_EVERY, GAN_JUDGED = 25, 1000  # epochs between reports (and grids); samples the judge labels


def _demo_gan(args) -> None:
    """A GAN learns to draw digits; a CNN trained on the real digits judges its samples."""
    epochs = args.epochs or 300
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=True)
    print(f"8x8 handwritten digits: a GAN learns to draw them from the {len(xt)} training images")
    judge = demos.digits_cnn()
    judge.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.003), metrics=["accuracy"])
    judge.fit(xt, yt, epochs=30, validation_data=(xv, yv), callbacks=[callbacks.EarlyStopping(patience=30)], verbose=0)
    noise = np.random.default_rng(args.seed).uniform(0, 1, xs.shape).astype(xs.dtype)
    print(
        f"the judge, a digits CNN trained on the real images: test accuracy {judge.evaluate(xs, ys)['accuracy']:.1%}; "
        f"mean confidence {demos.recognised(judge, xs)[1]:.2f} on real test digits, "
        f"{demos.recognised(judge, noise)[1]:.2f} on uniform noise"
    )
    gan = demos.digits_gan()
    gan.compile(optimizers.Adam(2e-4, beta_1=0.5), optimizers.Adam(2e-4, beta_1=0.5))
    print("the generator, from a latent vector of 32 to 64 pixels:")
    gan.generator.summary()
    print("the discriminator, from 64 pixels to the probability that they are a real digit:")
    gan.discriminator.summary()

    def judged() -> tuple[np.ndarray, float, int]:  # the judge on samples as images in [0, 1]
        return demos.recognised(judge, (gan.sample(GAN_JUDGED).reshape(-1, 8, 8, 1) + 1) / 2)

    class Report(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % GAN_EVERY == 0 or epoch + 1 == epochs:
                _, confidence, classes = judged()
                print(
                    f"epoch {epoch + 1}/{epochs}: d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}; "
                    f"the judge sees {classes}/10 digits, mean confidence {confidence:.2f}"
                )

    hooks = [Report()]
    if args.plot:
        hooks.append(callbacks.SampleGrid(GAN_GRIDS, every=GAN_EVERY))
    real = xt.reshape(len(xt), -1) * 2 - 1  # pixels in [-1, 1], the range of the generator's tanh
    start = time.perf_counter()
    history = gan.fit(real, epochs=epochs, batch_size=64, callbacks=hooks, verbose=0)
    seconds = time.perf_counter() - start
    print(f"trained in {seconds:.1f} s ({epochs * len(real) / seconds:,.0f} real samples/s)")
    shares, confidence, classes = judged()
    print(f"{GAN_JUDGED} generated digits, as the judge labels them (a digit appears if it has >= 3%):")
    print("  " + "  ".join(f"{digit}: {share:.0%}" for digit, share in enumerate(shares)))
    print(f"digits that appear: {classes}/10; the judge's mean confidence: {confidence:.2f}")
    if args.plot:
        plot.training_curves(history, args.plot)
        grids = ", ".join(hooks[-1].paths[:2])
        print(f"loss curves written to {args.plot}; samples every {GAN_EVERY} epochs to {grids}, ...")
    try:
        plot.require_matplotlib()
    except ImportError as exc:
        print(f"no picture of the samples: {exc}")
    else:
        samples = gan.sample(64)
        plot.image_grid(samples, predictions=judge.predict(samples.reshape(-1, 8, 8, 1) / 2 + 0.5), path=GAN_PICTURE)
        print(f"64 generated digits, titled with the judge's labels, written to {GAN_PICTURE}")
    if args.out:
        gan.save(args.out)
        print(f"GAN saved to {args.out} (nn.load_gan reads it)")


RESNET_EPOCHS, RESNET_LEARNING_RATE = 20, 0.005


def _demo_resnet(args) -> None:
    """A small ResNet and the plain CNN of the same layers without the Adds, trained alike on the digits."""
    epochs = args.epochs or RESNET_EPOCHS
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=True)
    print(f"8x8 handwritten digits as images: {len(xt)} training, {len(xv)} validation, {len(xs)} test images")
    print("a ResNet: a stem convolution, 2 residual blocks y = relu(x + F(x)), F = conv, batch norm, ReLU, conv,")
    print("batch norm; the mean of each channel; the classes. The plain CNN: the same layers, y = relu(F(x))")
    rows, trained = [], {}
    for name, residual in (("ResNet", True), ("plain CNN", False)):
        model = demos.digits_resnet(residual=residual)
        if residual:
            model.summary()
        model.compile(
            loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(RESNET_LEARNING_RATE), metrics=["accuracy"]
        )
        # the weights of the epoch with the lowest validation loss, the learning rate decayed to 0 over the epochs
        hooks = [
            callbacks.EarlyStopping(patience=epochs),
            callbacks.LearningRateScheduler(schedules.CosineDecay(RESNET_LEARNING_RATE, epochs)),
        ]
        if args.doctor:
            hooks.append(callbacks.TrainingDoctor())
        print(f"training the {name}, {epochs} epoch{'s' if epochs > 1 else ''} ...", flush=True)
        start = time.perf_counter()
        history = model.fit(xt, yt, epochs=epochs, batch_size=32, validation_data=(xv, yv), callbacks=hooks, verbose=0)
        seconds = time.perf_counter() - start
        count = sum(p.data.size for p in model.parameters())
        rows.append((name, count, accuracy(ys, model.predict(xs)), seconds))
        trained[name] = model, history
    print(f"on the {len(ys)} test digits the networks never saw:")
    print(f"  {'':12}{'parameters':>12}{'test accuracy':>16}{'trained in':>13}")
    for name, count, score, seconds in rows:
        print(f"  {name:12}{count:>12,}{score:>16.2%}{seconds:>11.1f} s")
    resnet, history = trained["ResNet"]
    if args.plot:
        plot.training_curves(history, args.plot)
        print(f"the ResNet's training curves written to {args.plot}")
    if args.out:
        resnet.save(args.out)
        print(f"the ResNet saved to {args.out}")


WRITER_PICTURE = "demo_writer_attention.png"
# the characters the model reads at a time (its longest sequence, a sample's too), between the training windows
WRITER_CONTEXT, WRITER_STRIDE, WRITER_EPOCHS, WRITER_LEARNING_RATE = 64, 32, 20, 0.003
WRITER_PROMPT = "The network"  # what the samples start from: each then writes up to the context's end
WRITER_SENTENCE = "Each step attends to the steps before it."  # the sentence the attention picture reads


def writer_data(seed: int) -> tuple[str, np.ndarray, np.ndarray]:
    """The demo writer's text as character ids: the vocabulary (the characters by id), the training ids and the
    validation ids, every tenth paragraph of the documents (from a seeded draw) held out to validate."""
    paragraphs = datasets.neuronet_docs().splitlines(keepends=True)
    held = np.random.default_rng(seed).permutation(len(paragraphs)) % 10 == 0
    vocabulary = "".join(sorted(set("".join(paragraphs))))
    index = {c: i for i, c in enumerate(vocabulary)}

    def ids(keep) -> np.ndarray:
        return np.array([index[c] for p, k in zip(paragraphs, keep) if k for c in p], dtype=np.int64)

    return vocabulary, ids(~held), ids(held)


def _demo_writer(args) -> None:
    """A character-level causal Transformer learns to write like neuronet's documentation; samples as it learns,
    its validation loss beside the unigram and bigram baselines, and one head's attention over a sentence."""
    epochs = args.epochs or WRITER_EPOCHS
    vocabulary, train, val = writer_data(args.seed)
    prompt = args.prompt if args.prompt is not None else WRITER_PROMPT
    unknown = sorted(set(prompt) - set(vocabulary))
    if not prompt or unknown:
        raise CLIError(
            f"--prompt {prompt!r} " + (f"holds characters the documents never use: {''.join(unknown)!r}" if unknown
            else "is empty") + f"; use some of {vocabulary.strip()!r}"
        )  # fmt: skip
    if len(prompt) > WRITER_CONTEXT // 2:
        raise CLIError(f"--prompt has {len(prompt)} characters: give at most {WRITER_CONTEXT // 2}, room to write")
    steps = WRITER_CONTEXT + 1 - len(prompt)  # (the model reads all it writes but the last character)
    xt, yt = demos.character_windows(train, WRITER_CONTEXT, WRITER_STRIDE)
    xv, yv = demos.character_windows(val, WRITER_CONTEXT, WRITER_CONTEXT)
    print(
        f"neuronet's own guide and API reference as text: {len(train):,} characters to learn from, {len(val):,} "
        f"held out (every tenth paragraph), {len(vocabulary)} distinct characters"
    )
    print(
        f"a causal Transformer reads {WRITER_CONTEXT} characters at a time and predicts, at every step, the next "
        f"character from that step and the ones before it: {len(xt)} training windows, {len(xv)} validation windows"
    )
    model = demos.writer_transformer(len(vocabulary), WRITER_CONTEXT)
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(WRITER_LEARNING_RATE))
    model.summary()
    temperature = args.temperature

    class Samples(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            written = text.generate(
                model, prompt, steps, temperature=temperature, seed=args.seed, vocabulary=vocabulary
            )
            print(f"epoch {epoch + 1}/{epochs}: loss {logs['loss']:.3f}, val_loss {logs['val_loss']:.3f}")
            print(f"  {written!r}", flush=True)

    hooks = [Samples(), callbacks.LearningRateScheduler(schedules.CosineDecay(WRITER_LEARNING_RATE, epochs))]
    if args.doctor:
        hooks.append(callbacks.TrainingDoctor())
    plural = "s" if epochs > 1 else ""
    print(f"training, {epochs} epoch{plural}; after each, the {steps} characters it writes after {prompt!r}:")
    start = time.perf_counter()
    history = model.fit(xt, yt, epochs=epochs, batch_size=32, validation_data=(xv, yv), callbacks=hooks, verbose=0)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    baselines = demos.ngram_losses(train, xv, yv, len(vocabulary))
    scores = {
        "the Transformer": demos.character_loss(model, xv, yv),
        "bigram (the character before)": baselines["bigram"],
        "unigram (character counts)": baselines["unigram"],
    }
    print("validation loss, nats per character (the lower the better; counts from the training text):")
    for name, value in scores.items():
        print(f"  {name:32}{value:7.3f}")
    print(f"greedy (temperature 0): {text.generate(model, prompt, steps, 0, vocabulary=vocabulary)!r}")
    _writer_attention(model, vocabulary)
    if args.plot:
        plot.training_curves(history, args.plot)
        print(f"training curves written to {args.plot}")
    if args.out:
        model.save(args.out)
        print(f"model saved to {args.out} (the characters by id: {vocabulary!r})")


def _writer_attention(model, vocabulary: str) -> None:
    """The picture of the sharpest head (the lowest mean entropy of its rows) over WRITER_SENTENCE."""
    try:
        plot.require_matplotlib()
    except ImportError as exc:
        print(f"no picture of the attention: {exc}")
        return
    ids = np.array([[vocabulary.index(c) for c in WRITER_SENTENCE]])
    model.predict(ids)
    blocks = [layer.attention for layer in model.layers if isinstance(layer, TransformerEncoder)]
    heads = [(f"block {b + 1}, head {h}", attention, h)
             for b, attention in enumerate(blocks) for h in range(attention.num_heads)]  # fmt: skip
    weights = [attention.ops.to_numpy(attention.attention_scores[0, h]) for _, attention, h in heads]
    entropy = [-(w * np.log(np.maximum(w, 1e-12))).sum(axis=1).mean() for w in weights]
    name, attention, head = heads[int(np.argmin(entropy))]
    title = f"{name}: each character (row) reads the ones before it"
    plot.attention(attention, WRITER_PICTURE, tokens=WRITER_SENTENCE, heads=[head], title=title)
    print(f"the attention of {name} over {WRITER_SENTENCE!r} written to {WRITER_PICTURE}")


DEMOS = {"dense": _demo_dense, "cnn": _demo_cnn, "text": _demo_text, "forecast": _demo_forecast}  # (gan, resnet)
KINDS = sorted([*DEMOS, "gan", "resnet", "writer"])
TEXT_EXAMPLES = ["the movie was good , not bad", "the movie was bad , not good", "great film", "i hated it"]


def cmd_demo(args) -> None:
    """`neuronet demo KIND`: train the demo's network, report its test scores, save it if asked."""
    if args.plot is True:  # --plot without a name: the demo's own picture
        args.plot = FORECAST_PICTURE if args.kind == "forecast" else CURVES_PICTURE
    if args.plot:
        plot.require_matplotlib()  # before training, not after it
        check_writable(args.plot, "--plot")
    elif args.kind == "forecast":
        check_writable(FORECAST_PICTURE, "the forecast picture")
    if args.kind == "gan":
        check_writable(GAN_PICTURE, "the picture of the samples")
        if args.doctor:
            raise CLIError("--doctor watches one network learning from labels; the gan demo trains two at once")
    if args.kind == "writer":
        check_writable(WRITER_PICTURE, "the picture of the attention")
        try:
            plot.require_matplotlib()
        except ImportError as exc:  # (the demo runs without it; say so now, not after training)
            print(f"no picture of the attention will be drawn: {exc}")
    if args.out:
        check_writable(args.out, "--out")
        model_path(args.out, "--out")  # a foreign extension (.onnx, .keras) now, not after training
    set_seed(args.seed)
    if args.kind == "gan":  # two networks and no targets: a loop of its own
        _demo_gan(args)
        return
    if args.kind == "resnet":  # two networks to compare: a loop of its own
        _demo_resnet(args)
        return
    if args.kind == "writer":  # samples as it learns, baselines: a loop of its own
        _demo_writer(args)
        return
    epochs = args.epochs or 30
    model, (xt, yt), (xv, yv), (xs, ys), report = DEMOS[args.kind](args)
    model.summary()
    # the weights of the epoch with the lowest validation loss, not of the last one (a noisy step can end a run)
    best = callbacks.EarlyStopping(patience=epochs)
    start = time.perf_counter()
    watching = [best, callbacks.TrainingDoctor()] if args.doctor else [best]
    history = model.fit(xt, yt, epochs=epochs, batch_size=32, validation_data=(xv, yv), callbacks=watching)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    report(model, xs, ys)
    if args.plot and args.kind != "forecast":
        plot.training_curves(history, args.plot)
        print(f"training curves written to {args.plot}")
    if args.out:
        model.save(args.out)
        print(f"model saved to {args.out}")
    if args.kind == "text":
        print_predictions(model, TEXT_EXAMPLES)
        example = '"the plot was not boring"'
        if args.out:
            print(f"try your own: neuronet predict-text {args.out} {example}")
        else:  # nothing was saved to try
            print(f"to try your own, save the model (--out MODEL), then: neuronet predict-text MODEL {example}")
