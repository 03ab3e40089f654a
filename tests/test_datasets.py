"""Datasets: fit, evaluate and predict reading samples a batch at a time (``data/dataset.py``, ``samples.py``,
``prefetch.py``), giving what the same arrays give, bit for bit."""

import threading

import numpy as np
import pytest

import neuronet as nn

L = nn.layers


def mlp(seed: int = 0, dropout: float = 0.0):
    nn.set_seed(seed)
    model = nn.Sequential([L.Dense(6, 16, activation="relu"), L.Dropout(dropout), L.Dense(16, 3, activation="softmax")])
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    return model


def data(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


class Recording:
    """A dataset of arrays that records each request's indices and the thread that made it."""

    def __init__(self, x, y, w=None):
        self.x, self.y, self.w = x, y, w
        self.requests, self.threads = [], set()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, indices):
        self.requests.append(np.array(indices))
        self.threads.add(threading.current_thread().name)
        item = (self.x[indices], self.y[indices])
        return item if self.w is None else (*item, self.w[indices])


def same_weights(a, b) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_dataset_trains_bit_for_bit_as_the_same_arrays_shuffled_or_not(shuffle):
    x, y = data()
    by_arrays, by_dataset = mlp(dropout=0.2), mlp(dropout=0.2)
    h1 = by_arrays.fit(x, y, epochs=3, batch_size=32, shuffle=shuffle, validation_split=0.2, verbose=0)
    h2 = by_dataset.fit(nn.data.ArrayDataset(x, y), epochs=3, batch_size=32, shuffle=shuffle, validation_split=0.2,
                        verbose=0)  # fmt: skip
    assert same_weights(by_arrays, by_dataset)
    assert h1.history == h2.history
    assert by_arrays.evaluate(x, y) == by_dataset.evaluate(nn.data.ArrayDataset(x, y))
    for batch in (50, 1000):  # several batches, and one
        assert np.array_equal(
            by_arrays.predict(x, batch_size=batch), by_dataset.predict(nn.data.ArrayDataset(x), batch)
        )


def test_each_batch_is_read_once_in_ascending_order_in_a_background_thread_and_an_epoch_covers_every_sample():
    x, y = data(200)
    dataset = Recording(x, y)
    mlp().fit(dataset, epochs=2, batch_size=32, verbose=0)
    training = dataset.requests[1:]  # (the first: sample 0, checked against the model at the start)
    assert len(training) == 2 * 7
    for epoch in (training[:7], training[7:]):
        assert all(np.all(np.diff(r) > 0) for r in epoch)
        assert np.array_equal(np.sort(np.concatenate(epoch)), np.arange(200))
    assert any(name.startswith("neuronet-read-ahead") for name in dataset.threads)


def test_npy_files_train_as_arrays_memory_mapped(tmp_path):
    x, y = data()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    dataset = nn.data.NpyDataset(tmp_path / "x.npy", tmp_path / "y.npy")
    assert isinstance(dataset.x, np.memmap) and len(dataset) == 300
    a, b = mlp(), mlp()
    a.fit(x, y, epochs=2, batch_size=64, verbose=0)
    b.fit(dataset, epochs=2, batch_size=64, verbose=0, validation_data=nn.data.ArrayDataset(x[:50], y[:50]))
    assert same_weights(a, b)


def test_weights_from_the_dataset_or_class_weight_weigh_as_sample_weight_does():
    x, y = data()
    w = np.random.default_rng(1).uniform(0, 2, len(x))
    a, b = mlp(), mlp()
    a.fit(x, y, epochs=2, batch_size=32, verbose=0, sample_weight=w)
    b.fit(Recording(x, y, w), epochs=2, batch_size=32, verbose=0)
    assert same_weights(a, b)
    classes = {0: 1.0, 1: 3.0, 2: 0.5}
    a, b = mlp(), mlp()
    a.fit(x, y, epochs=2, batch_size=32, verbose=0, class_weight=classes)
    b.fit(nn.data.ArrayDataset(x, y), epochs=2, batch_size=32, verbose=0, class_weight=classes)
    assert same_weights(a, b)


def test_a_graph_model_of_two_inputs_reads_a_list_of_arrays():
    x, y = data()

    def build():
        nn.set_seed(0)
        a, b = nn.Input(shape=(3,)), nn.Input(shape=(3,))
        h = L.Concatenate()([L.Dense(8, activation="relu")(a), L.Dense(8, activation="relu")(b)])
        model = nn.Model(inputs=[a, b], outputs=L.Dense(3, activation="softmax")(h))
        model.compile(optimizer="adam")
        return model

    m1, m2 = build(), build()
    m1.fit([x[:, :3], x[:, 3:]], y, epochs=2, batch_size=32, verbose=0)
    m2.fit(nn.data.ArrayDataset([x[:, :3], x[:, 3:]], y), epochs=2, batch_size=32, verbose=0)
    assert same_weights(m1, m2)


def test_a_bad_sample_deep_in_a_dataset_is_named_with_how_far_training_got():
    x, y = data(1000)
    x[777, 2] = np.nan
    with pytest.raises(ValueError, match=r"sample 777 contains 1 NaN.*epoch 1/2, batch 25 of 32: training stopped"):
        mlp().fit(nn.data.ArrayDataset(x, y), epochs=2, batch_size=32, shuffle=False, verbose=0)
    x[777, 2], x[1, 0] = 0.0, np.nan  # (the first batch: refused as it would be in memory)
    with pytest.raises(ValueError, match=r"X's sample 1 contains 1 NaN") as refused:
        mlp().fit(nn.data.ArrayDataset(x, y), epochs=2, batch_size=32, shuffle=False, verbose=0)
    assert "training stopped" not in str(refused.value)

    class Ragged(Recording):
        def __getitem__(self, indices):
            x, y = super().__getitem__(indices)
            return (x[:, :5] if 500 in indices else x), y

    with pytest.raises(ValueError, match=r"sample 500: sample shape \(5,\), but sample 0's is \(6,\)"):
        mlp().fit(Ragged(*data(1000)), epochs=1, batch_size=32, verbose=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, d: m.fit(d, data()[1]), "a dataset .*which gives its targets .*leave out y"),
        (lambda m, d: m.fit(nn.data.ArrayDataset(data()[0])), "sample 0's target is None"),
        (lambda m, d: m.fit(Returns(np.zeros((5, 6)))), "must return \\(x, y\\) or \\(x, y, sample_weight\\)"),
        (lambda m, d: m.fit(Returns(None, n=0)), "empty dataset"),
        (lambda m, d: m.fit(NoLength()), "has __getitem__ but no __len__: a dataset needs both"),
        (lambda m, d: m.fit(d, validation_data=(1, 2, 3)), "a pair \\(X_val, y_val\\) or a dataset"),
        (lambda m, d: m.fit(OneAtATime()), "given a whole batch's indices at once .*not one sample"),
        (lambda m, d: m.predict(OneAtATime()), "given a whole batch's indices at once .*not one sample"),
        (lambda m, d: nn.data.ArrayDataset(np.zeros((4, 2)), np.zeros(3)), "x holds 4 samples but y holds 3"),
        (lambda m, d: nn.data.ArrayDataset([1, 2, 3]), "must be an array with a batch axis"),
        (lambda m, d: nn.data.Subset(d, [0, 400]), "indices in \\[0, 300\\)"),
    ],
)
def test_datasets_misused_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(mlp(), nn.data.ArrayDataset(*data()))


class OneAtATime:
    """A dataset as PyTorch's are written: one sample per (int) index."""

    def __len__(self):
        return 10

    def __getitem__(self, index):
        return np.zeros(6) + int(index), 0


class NoLength:
    def __getitem__(self, indices):
        return np.zeros((len(indices), 6)), np.zeros(len(indices))


class Returns:
    def __init__(self, item, n=10):
        self.item, self.n = item, n

    def __len__(self):
        return self.n

    def __getitem__(self, indices):
        return self.item


def test_npy_files_of_other_lengths_are_named(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((5, 2)))
    np.save(tmp_path / "y.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"NpyDataset: x_path '.*x\.npy' holds 5 samples but y_path '.*y\.npy' holds"):
        nn.data.NpyDataset(tmp_path / "x.npy", tmp_path / "y.npy")


def test_npy_files_that_hold_no_array_of_numbers_are_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (tmp_path / "text.npy").write_text("not an array")
    for name in ("objects.npy", "text.npy"):
        with pytest.raises(ValueError, match="not an .npy file of numbers"):
            nn.data.NpyDataset(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nn.data.NpyDataset(tmp_path / "missing.npy")


def test_arrays_and_data_frames_are_not_taken_for_datasets():
    from neuronet.data.dataset import is_dataset

    assert not is_dataset(np.zeros((3, 2))) and not is_dataset([np.zeros((3, 2))])
    assert not is_dataset(np.zeros(3).view(np.memmap))
    assert not is_dataset(range(3)) and not is_dataset({"a": 1})
    assert is_dataset(nn.data.ArrayDataset(np.zeros((3, 2)))) and is_dataset(Recording(np.zeros((3, 2)), np.zeros(3)))


MEMORY_JOB = """
import sys, time
import numpy as np
import neuronet as nn

def anonymous_mib() -> float:
    # the memory the process allocated: the pages of a memory-mapped file (RssFile) may be dropped by the system
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

class Peak(nn.callbacks.Callback):
    peak = 0.0
    def on_batch_end(self, batch, logs=None):
        Peak.peak = max(Peak.peak, anonymous_mib())

path, samples = sys.argv[1], int(sys.argv[2])
dataset = nn.data.Subset(nn.data.NpyDataset(path + "/x.npy", path + "/y.npy"), np.arange(samples))
nn.set_seed(0)
model = nn.Sequential([nn.layers.Dense(784, 32, activation="relu"), nn.layers.Dense(32, 10, activation="softmax")])
model.compile(optimizer=nn.optimizers.Adam(1e-3))
start = time.monotonic()
model.fit(dataset, epochs=1, batch_size=512, verbose=0, callbacks=[Peak()])
print(Peak.peak, time.monotonic() - start)
"""


@pytest.mark.slow
def test_one_epoch_over_a_1_5_gb_npy_file_stays_under_600_mb_and_does_not_grow_with_the_samples(tmp_path):
    """500,000 x 784 float32 (1.57 GB) made here in chunks: the process's anonymous memory (what it allocated;
    the mapped file's pages are the system's to drop) peaks under 600 MB, within 64 MB of the peak over a
    tenth of the samples."""
    import subprocess
    import sys

    n, rows = 500_000, 50_000
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(n, 784))
    rng = np.random.default_rng(0)
    for lo in range(0, n, rows):
        x[lo : lo + rows] = rng.random((rows, 784), dtype=np.float32)
    x.flush()
    del x
    np.save(tmp_path / "y.npy", rng.integers(0, 10, n))
    peaks = {}
    for samples in (n // 10, n):
        done = subprocess.run([sys.executable, "-c", MEMORY_JOB, str(tmp_path), str(samples)], capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        peaks[samples] = float(done.stdout.split()[0])
    assert peaks[n] < 600, peaks
    assert peaks[n] - peaks[n // 10] < 64, peaks


def write_table(path, x, labels):
    lines = ["a,b,c,d,e,f,label"] + [",".join([*map(repr, map(float, row)), str(lab)]) for row, lab in zip(x, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_table_read_in_chunks_trains_as_its_numbers_in_memory(tmp_path, monkeypatch):
    import glob

    from neuronet.data import csv_dataset

    monkeypatch.setattr(csv_dataset, "CHUNK_ROWS", 7)  # many chunks, and a last one shorter
    x, y = data(100)
    names = np.array(["ant", "bee", "cat"])[y]
    dataset = nn.data.CSVDataset(write_table(tmp_path / "t.csv", x, names), target="label", cache_dir=tmp_path)
    assert dataset.features == list("abcdef") and dataset.classes == ["ant", "bee", "cat"]
    features, labels = dataset[np.arange(100)]
    assert np.array_equal(features, x) and np.array_equal(labels, y)
    a, b = mlp(), mlp()
    a.fit(x, y, epochs=2, batch_size=16, verbose=0)
    b.fit(dataset, epochs=2, batch_size=16, verbose=0)
    assert same_weights(a, b)
    assert glob.glob(str(tmp_path / "neuronet-csv-*"))
    del dataset
    assert not glob.glob(str(tmp_path / "neuronet-csv-*"))  # the binary copy goes with the dataset


def test_a_csv_target_of_numbers_is_read_as_numbers_and_one_that_turns_to_text_late_as_labels(tmp_path, monkeypatch):
    from neuronet.data import csv_dataset

    monkeypatch.setattr(csv_dataset, "CHUNK_ROWS", 3)
    x = np.arange(36, dtype=np.float32).reshape(6, 6)
    numbers = nn.data.CSVDataset(write_table(tmp_path / "n.csv", x, ["0.1", "2", "1e3", "-4", "5", "6"]), "label")
    assert numbers.classes is None and np.array_equal(numbers[np.arange(6)][1], np.float32([0.1, 2, 1e3, -4, 5, 6]))
    late = nn.data.CSVDataset(write_table(tmp_path / "l.csv", x, ["10", "2", "2.0", "10", "yes", "2"]), "label")
    assert late.classes == ["10", "2", "yes"] and late[np.arange(6)][1].tolist() == [0, 1, 1, 0, 2, 1]
    two = nn.data.CSVDataset(write_table(tmp_path / "two.csv", x, ["0"] * 6), "label", features=["f", "a"])
    assert np.array_equal(two[np.arange(6)][0], x[:, [5, 0]])
    for labels, where in (
        (["cat", "dog", "cat", "dog", "", "cat"], "line 6"),
        (["1", "2", "3", "4", "5", "inf"], "line 7"),
    ):
        with pytest.raises(ValueError, match=rf"{where}, column 'label' (is empty|holds .inf., an infinite value)"):
            nn.data.CSVDataset(write_table(tmp_path / "gap.csv", x, labels), "label")  # (not the first label's text)


@pytest.mark.parametrize(
    "cell, target, features, message",
    [
        ("", "label", None, r"line 4, column 'c' is empty\. CSVDataset reads numbers only"),
        ("red", "label", None, r"line 4, column 'c' holds 'red', which is not a number"),
        ("1,5", "label", None, r"a number written with a comma"),
        ("1", "price", None, r"no column 'price'; its columns are"),
        ("1", "label", ["a", "label"], r"names the target 'label' among the features"),
        ("1", "label", ["a", "z"], r"has no column\(s\) \['z'\]"),
        ("1", "label", [], r"features=\[\] names no column"),
        ("-4e38", "label", None, r"line 4, column 'c' holds -4e\+38, beyond float32's range"),
    ],
)
def test_a_csv_cell_that_is_no_number_is_named_by_line_and_column_before_training(tmp_path, cell, target, features,
                                                                                message):  # fmt: skip
    x = np.zeros((5, 6), dtype=object)
    x[2, 2] = cell
    lines = ["a,b,c,d,e,f,label"] + [",".join(f'"{v}"' if "," in str(v) else str(v) for v in [*row, 1]) for row in x]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message):
        nn.data.CSVDataset(tmp_path / "t.csv", target, features=features)


def test_a_gan_refuses_a_dataset_saying_what_to_pass():
    nn.set_seed(0)
    gan = nn.GAN(nn.Sequential([L.Dense(2, 6)]), nn.Sequential([L.Dense(6, 1, activation="sigmoid")]), latent_dim=2)
    gan.compile()
    with pytest.raises(ValueError, match="not a dataset .*mmap_mode='r'"):
        gan.fit(nn.data.ArrayDataset(np.zeros((8, 6))))


def test_a_bad_sample_in_a_later_epoch_names_the_last_checkpoint(tmp_path):
    x, y = data(200)

    class SpoiledLater(nn.data.ArrayDataset):
        spoiled = False  # (set from epoch 3 on by the callback below)

        def __getitem__(self, indices):
            xb, yb = super().__getitem__(indices)
            if SpoiledLater.spoiled and 150 in indices:
                xb = xb.copy()
                xb[list(indices).index(150)] = np.inf
            return xb, yb

    class Spoil(nn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            SpoiledLater.spoiled = epoch >= 2

    path = tmp_path / "best.nnet"
    check = nn.callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=False)
    with pytest.raises(
        ValueError, match=r"sample 150 contains 6 NaN.*epoch 3/5, batch 5.*checkpoint is .*best.nnet \(epoch 2\)"
    ):
        mlp().fit(SpoiledLater(x, y), epochs=5, batch_size=32, shuffle=False, verbose=0, callbacks=[check, Spoil()])
    assert nn.load_model(path)
    with pytest.raises(
        ValueError, match=r"epoch 1/5, batch 5 .*weights of the steps before it$"
    ):  # (not that fit's file)
        mlp().fit(SpoiledLater(x, y), epochs=5, batch_size=32, shuffle=False, verbose=0)
    xv = x[:40].copy()
    xv[33, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"validation_data's sample 33 contains 1 NaN.*the validation data after epoch 1/2"
    ):
        mlp().fit(x, y, epochs=2, verbose=0, validation_data=nn.data.ArrayDataset(xv, y[:40]))


class Range(nn.data.ArrayDataset):
    """A slip: the span from the first index asked for to the last, not the indices."""

    def __getitem__(self, indices):
        return self.x[indices[0] : indices[-1] + 1], self.y[indices[0] : indices[-1] + 1]


class Short(nn.data.ArrayDataset):
    def __getitem__(self, indices):
        return self.x[indices[:-1]], self.y[indices]


def test_a_dataset_giving_other_than_one_sample_per_index_is_refused():
    x, y = data()
    with pytest.raises(ValueError, match=r"gave \d+ samples for the 32 indices asked for"):
        mlp().fit(Range(x, y), batch_size=32, verbose=0)
    with pytest.raises(ValueError, match=r"gave 31 samples for the 32 indices asked for"):
        mlp().predict(Short(x, y), batch_size=32)
    with pytest.raises(ValueError, match=r"X's sample 0 is empty"):
        mlp().fit(Short(x, y), verbose=0)
