"""Nothing is lost: exact round trips, atomic saves, clear errors for bad files."""

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import neuronet as nn
from neuronet.saving import read_model_file, write_model_file


def header_metadata(path):
    with safetensors.safe_open(path, framework="numpy") as f:
        return f.metadata()


def trained_model():
    X, y = nn.datasets.spiral(30, 3)
    model = nn.Sequential(
        [
            nn.layers.Dense(2, 16, activation="leaky_relu", weight_regularizer_l2=1e-4),
            nn.layers.Dropout(0.1),
            nn.layers.Dense(16, 3),
            nn.layers.Softmax(),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    model.metadata = {"note": "kept"}
    return model, X, y


def test_round_trip_is_exact(tmp_path):
    model, X, y = trained_model()
    path = tmp_path / "model.nnet"
    model.save(path)
    loaded = nn.load_model(path)
    assert [type(ly) for ly in loaded.layers] == [type(ly) for ly in model.layers]
    assert [ly.name for ly in loaded.layers] == [ly.name for ly in model.layers]
    for a, b in zip(model.parameters(), loaded.parameters()):
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    assert loaded.evaluate(X, y) == model.evaluate(X, y)
    assert loaded.metadata == {"note": "kept"}
    assert loaded.layers[0].weights.regularizer.l2 == pytest.approx(1e-4)
    loaded.fit(X, y, epochs=1, verbose=0)  # a loaded model trains on


def test_file_is_safetensors_with_a_json_description(tmp_path):
    model, _, _ = trained_model()
    model.save(tmp_path / "m.nnet")
    tensors = safetensors.numpy.load_file(tmp_path / "m.nnet")
    assert sorted(tensors) == ["0.dense.biases", "0.dense.weights", "2.dense_1.biases", "2.dense_1.weights"]
    description = json.loads(header_metadata(tmp_path / "m.nnet")["neuronet"])
    assert description["model"]["layers"][1] == {"class": "Dropout", "name": "dropout", "config": {"rate": 0.1}}


def test_corrupt_file_fails_cleanly(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(nn.ModelFileError, match="not a valid model file"):
        nn.load_model(path)
    path.write_bytes(b"not a model at all")
    with pytest.raises(nn.ModelFileError):
        nn.load_model(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(3, np.float32)}, path)
    with pytest.raises(nn.ModelFileError, match="not a neuronet model"):
        nn.load_model(path)


def test_weights_that_do_not_match_the_architecture(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    description, tensors = read_model_file(path)
    tensors["0.dense.weights"] = np.zeros((3, 3), np.float32)
    write_model_file(path, {"model": description["model"], "metadata": {}}, tensors)  # with matching checksums
    with pytest.raises(nn.ModelFileError, match=r"layer 0 .* weights of shape \(2, 16\), but the file holds \(3, 3\)"):
        nn.load_model(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no model file"):
        nn.load_model("/nonexistent/model.nnet")


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    model, X, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    before = path.read_bytes()
    for p in model.parameters():
        p.data += 1.0

    def crash(fd):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nnet"]  # no temporary file left behind
    nn.load_model(path).predict(X)


# -- checksums ------------------------------------------------------------------------------------
def saved(tmp_path):
    model, X, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    return model, path


def tensor_offset(path, key):
    """Where the bytes of tensor ``key`` start in the file."""
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    return 8 + header_len + header[key]["data_offsets"][0]


def test_a_flipped_bit_in_a_tensor_names_the_tensor(tmp_path):
    _, path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[tensor_offset(path, "2.dense_1.weights") + 5] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(nn.ModelFileError, match="tensor 2.dense_1.weights is damaged"):
        nn.load_model(path)


def test_a_flipped_bit_in_the_description_is_caught(tmp_path):
    """Dropout 0.1 -> 0.3 would load and train differently: the description's own checksum catches it."""
    _, path = saved(tmp_path)
    data = path.read_bytes()
    at = data.index(b'\\"rate\\": 0.1') + len(b'\\"rate\\": 0.')
    flipped = data[:at] + bytes([data[at] ^ 0x02]) + data[at + 1 :]  # "1" -> "3"
    path.write_bytes(flipped)
    with pytest.raises(nn.ModelFileError, match="description is damaged"):
        nn.load_model(path)


def test_every_single_bit_flip_fails_cleanly_or_changes_nothing(tmp_path):
    model, path = saved(tmp_path)
    original = path.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "unchanged": 0}
    for bit in rng.choice(len(original) * 8, 300, replace=False):
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(data))
        try:
            loaded = nn.load_model(path)
        except nn.ModelFileError:
            outcomes["refused"] += 1
            continue
        assert loaded.get_config() == model.get_config() and loaded.metadata == model.metadata
        for a, b in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
        outcomes["unchanged"] += 1  # a flip in the header's padding, say
    assert outcomes["refused"] > 250


def test_files_of_format_version_1_still_load(tmp_path):
    """As neuronet 0.1 wrote them: no checksums."""
    model, X, _ = trained_model()
    description = {"format": "neuronet", "format_version": 1, "model": model.get_config(), "metadata": {"a": 1}}
    tensors = {k: np.ascontiguousarray(v) for k, v in model.named_arrays().items()}
    path = tmp_path / "old.nnet"
    path.write_bytes(safetensors.numpy.save(tensors, metadata={"neuronet": json.dumps(description)}))
    loaded = nn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.metadata == {"a": 1}


# -- hostile descriptions -------------------------------------------------------------------------
def write_raw(path, text, tensors=None):
    """A file whose description is ``text``, with a matching checksum: only its content can be refused."""
    metadata = {"neuronet": text, "neuronet.sha256": hashlib.sha256(text.encode()).hexdigest()}
    path.write_bytes(safetensors.numpy.save(tensors or {"w": np.zeros(1, np.float32)}, metadata=metadata))


@pytest.mark.parametrize("text", ["[1, 2]", '"model"', "3", "null", "[" * 100000 + "]" * 100000])
def test_descriptions_that_are_not_objects(tmp_path, text):
    write_raw(tmp_path / "m.nnet", text)
    with pytest.raises(nn.ModelFileError):
        nn.load_model(tmp_path / "m.nnet")


def dense_file(path, config=None, layer="Dense", optimizer=None, tensors=None, extra=None):
    """A one-layer model file with a consistent checksum and the given (possibly absurd) settings."""
    config = config if config is not None else {"n_inputs": 2, "n_neurons": 3}
    model = {
        "input_shape": None,
        "layers": [{"class": layer, "name": "dense", "config": config}],
        "loss": {"class": "MeanSquaredError", "config": {}},
        "optimizer": optimizer or {"class": "Adam", "config": {"learning_rate": 0.001}},
        "metrics": [],
    }
    model.update(extra or {})
    if tensors is None:
        tensors = {"0.dense.weights": np.ones((2, 3), np.float32), "0.dense.biases": np.zeros(3, np.float32)}
    write_model_file(path, {"model": model, "metadata": {}}, tensors)
    return path


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"config": {"n_inputs": 1e308, "n_neurons": 3}}, "n_inputs must be an int"),
        ({"config": {"n_inputs": 2, "n_neurons": 3, "activation": {"class": "Swish", "config": {}}}}, "unknown"),
        ({"config": {}, "layer": "Activation"}, "unknown class 'Activation'"),
        ({"config": {"vocab_size": 2, "embedding_dim": 3, "padding_id": 2.5}, "layer": "Embedding"}, "padding_id"),
        (
            {"config": {"in_channels": 2, "out_channels": 3, "kernel_size": 1, "stride": 1e30}, "layer": "Conv1D"},
            "stride",
        ),
        ({"config": {"n_features": 3, "epsilon": -1.0}, "layer": "BatchNormalization"}, "epsilon must be > 0"),
        ({"optimizer": {"class": "Adam", "config": {"learning_rate": float("nan")}}}, "learning_rate"),
        ({"optimizer": {"class": "Adam", "config": {"beta_1": 5}}}, "beta_1"),
        ({"optimizer": {"class": "Optimizer", "config": {}}}, "unknown class"),
        ({"config": {"n_inputs": 2, "n_neurons": 3, "bogus": 1}}, "bogus"),
        ({"extra": {"metrics": [["accuracy"]]}}, "metrics must be a list of names"),
        ({"extra": {"input_shape": [0]}}, "input_shape must be >= 1"),
    ],
)
def test_absurd_settings_in_a_file_are_refused_at_load(tmp_path, kwargs, match):
    path = dense_file(tmp_path / "m.nnet", **kwargs)
    with pytest.raises(nn.ModelFileError, match=match):
        nn.load_model(path)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.bool_])
def test_tensors_of_other_dtypes_are_refused(tmp_path, dtype):
    tensors = {"0.dense.weights": np.ones((2, 3), dtype), "0.dense.biases": np.zeros(3, np.float32)}
    with pytest.raises(nn.ModelFileError, match=f"0.dense.weights has dtype {np.dtype(dtype)}"):
        nn.load_model(dense_file(tmp_path / "m.nnet", tensors=tensors))


def test_nan_weights_are_refused_at_load_and_never_saved(tmp_path):
    tensors = {"0.dense.weights": np.full((2, 3), np.nan, np.float32), "0.dense.biases": np.zeros(3, np.float32)}
    with pytest.raises(nn.ModelFileError, match="0.dense.weights holds NaN"):
        nn.load_model(dense_file(tmp_path / "m.nnet", tensors=tensors))
    model = nn.Sequential([nn.layers.Dense(2, 3)])
    model.layers[0].weights.data[0, 0] = np.inf
    with pytest.raises(ValueError, match="0.dense.weights hold NaN or infinite values"):
        model.save(tmp_path / "diverged.nnet")
    assert not (tmp_path / "diverged.nnet").exists()


def test_a_small_file_declaring_a_huge_layer_allocates_nothing_big(tmp_path):
    """Dense(20000, 20000) would be 1.6 GB of weights: the shapes are checked before any allocation."""
    path = dense_file(tmp_path / "m.nnet", config={"n_inputs": 20000, "n_neurons": 20000})
    assert path.stat().st_size < 4096
    tracemalloc.start()
    try:
        with pytest.raises(nn.ModelFileError, match=r"weights of shape \(20000, 20000\), but the file holds \(2, 3\)"):
            nn.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_a_huge_input_shape_is_refused_before_a_sample_allocates_it(tmp_path):
    """A Flatten then Dense(4, 3) declared for 30000x30000 inputs: one sample alone would be 3.6 GB."""
    layers = [{"class": "Flatten", "name": "flatten", "config": {}}]
    layers += [{"class": "Dense", "name": "dense", "config": {"n_inputs": 4, "n_neurons": 3}}]
    tensors = {"1.dense.weights": np.ones((4, 3), np.float32), "1.dense.biases": np.zeros(3, np.float32)}
    description = {"model": {"input_shape": [30000, 30000], "layers": layers}, "metadata": {}}
    write_model_file(tmp_path / "m.nnet", description, tensors)
    tracemalloc.start()
    try:
        with pytest.raises(nn.ModelFileError, match="900,000,000 values in a layer"):
            nn.load_model(tmp_path / "m.nnet")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_a_description_of_arrays_the_file_lacks(tmp_path):
    path = dense_file(tmp_path / "m.nnet", tensors={"0.dense.weights": np.ones((2, 3), np.float32)})
    with pytest.raises(nn.ModelFileError, match="'biases' that the file does not hold"):
        nn.load_model(path)


# -- where saves write ----------------------------------------------------------------------------
def test_errors_name_the_users_path_not_a_temporary_file(tmp_path):
    model, _ = saved(tmp_path)
    for target, error in ((tmp_path / "nodir" / "m.nnet", OSError), (tmp_path, nn.checks.ArgumentError)):
        with pytest.raises(error) as caught:
            model.save(target)
        assert str(target) in str(caught.value) and ".tmp" not in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["m.nnet"]


def test_new_files_follow_the_umask_and_overwrites_keep_their_mode(tmp_path):
    model, _ = saved(tmp_path)
    old = os.umask(0o027)
    try:
        model.save(tmp_path / "new.nnet")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.nnet").stat().st_mode) == 0o640
    os.chmod(tmp_path / "new.nnet", 0o604)
    model.save(tmp_path / "new.nnet")
    assert stat.S_IMODE((tmp_path / "new.nnet").stat().st_mode) == 0o604


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_save_removes_what_a_killed_save_of_the_same_path_left(tmp_path):
    model, path = saved(tmp_path)
    host = socket.gethostname()
    stale = tmp_path / f".m.nnet.{host}-{dead_pid()}-0123abcd.tmp"
    running = tmp_path / f".m.nnet.{host}-{os.getppid()}-0123abcd.tmp"  # a process that is alive
    other = tmp_path / f".other.nnet.{host}-{dead_pid()}-0123abcd.tmp"  # another file's
    for f in (stale, running, other):
        f.write_bytes(b"half a model")
    model.save(path)
    assert not stale.exists() and running.exists() and other.exists()


@pytest.mark.skipif(os.name != "posix", reason="kill -9 is POSIX")
def test_kill_9_during_saves_never_loses_the_file(tmp_path):
    path = tmp_path / "m.nnet"
    script = (  # 8 MB of weights, so that a kill often lands mid-write
        "import sys, neuronet as nn\n"
        "m = nn.Sequential([nn.layers.Dense(1000, 2000)])\n"
        "m.save(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "while True: m.save(sys.argv[1])\n"
    )
    for delay in (0.05, 0.1, 0.2, 0.3, 0.5):
        child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE)
        child.stdout.readline()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        nn.load_model(path)  # intact: the old bytes or the new, never half
    model = nn.load_model(path)
    model.save(path)
    assert os.listdir(tmp_path) == ["m.nnet"]  # the next save removed what the killed ones left


def test_layers_whose_shapes_do_not_chain_are_refused_at_load(tmp_path):
    """Conv2D's stride rewritten from 1 to 2 keeps every tensor's shape, but no longer feeds Dense(8, 2)."""
    model = nn.Sequential(
        [nn.layers.Conv2D(1, 2, 3, padding="same"), nn.layers.MaxPool2D(2), nn.layers.Flatten(), nn.layers.Dense(8, 2)],
        input_shape=(4, 4, 1),
    )
    path = tmp_path / "m.nnet"
    model.save(path)
    description, tensors = read_model_file(path)
    description["model"]["layers"][0]["config"]["stride"] = 2
    write_model_file(path, {"model": description["model"], "metadata": {}}, tensors)
    with pytest.raises(nn.ModelFileError, match="layers do not fit together.*'dense'"):
        nn.load_model(path)


def test_the_input_shape_seen_in_training_is_saved(tmp_path):
    model = nn.Sequential([nn.layers.Embedding(9, 2), nn.layers.GlobalAvgPool1D(), nn.layers.Dense(2, 2)])
    model.predict(np.zeros((3, 7), int))
    model.save(tmp_path / "m.nnet")
    assert nn.load_model(tmp_path / "m.nnet").input_shape == (None, 7)


# -- the description protected, however it is damaged -------------------------------------------
def test_a_version_flipped_down_to_1_cannot_switch_the_checksums_off(tmp_path):
    """Two bit flips turn "format_version": 2 into 1; with a flipped weight besides, nothing may load."""
    model, path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    at = data.index(b'\\"format_version\\": 2') + len(b'\\"format_version\\": ')
    data[at] ^= 0x03  # "2" (0x32) -> "1" (0x31)
    path.write_bytes(bytes(data))
    with pytest.raises(nn.ModelFileError, match="description is damaged"):
        nn.load_model(path)
    data[tensor_offset(path, "2.dense_1.weights") + 5] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(nn.ModelFileError):
        nn.load_model(path)


@pytest.mark.parametrize("what", ["checksum in the header", "checksums in the description"])
def test_a_description_rewritten_as_version_1_keeps_no_more_than_version_1_wrote(tmp_path, what):
    model, path = saved(tmp_path)
    description, tensors = read_model_file(path)
    description["format_version"] = 1
    if what == "checksum in the header":
        del description["checksums"]
        text = json.dumps(description)
        metadata = {"neuronet": text, "neuronet.sha256": "0" * 64}
    else:
        metadata = {"neuronet": json.dumps(description)}
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))
    with pytest.raises(nn.ModelFileError, match="damaged|version 1 never wrote"):
        nn.load_model(path)


def test_forged_states_fail_at_load_not_at_predict(tmp_path):
    """A file whose checksums are right (a forger can compute them) but whose BatchNorm variance is negative."""
    model = nn.Sequential([nn.layers.Dense(3, 4), nn.layers.BatchNormalization(4)], input_shape=(3,))
    model.save(tmp_path / "m.nnet")
    description, tensors = read_model_file(tmp_path / "m.nnet")
    tensors["1.batch_normalization.running_var"][2] = -0.5
    del description["checksums"], description["format"], description["format_version"]
    write_model_file(tmp_path / "m.nnet", description, tensors)
    with pytest.raises(nn.ModelFileError, match="running_var holds -0.5, but a variance is never negative"):
        nn.load_model(tmp_path / "m.nnet")


@pytest.mark.parametrize("damage", ["mask of 0.5", "weight where there is no connection"])
def test_a_forged_sparse_mask_fails_at_load(tmp_path, damage):
    nn.set_seed(0)
    model = nn.Sequential([nn.layers.SparseDense(3, 4, density=0.5)])
    model.save(tmp_path / "m.nnet")
    description, tensors = read_model_file(tmp_path / "m.nnet")
    absent = np.argwhere(tensors["0.sparse_dense.mask"] == 0)[0]
    if damage == "mask of 0.5":
        tensors["0.sparse_dense.mask"][tuple(absent)] = 0.5
    else:
        tensors["0.sparse_dense.weights"][tuple(absent)] = 1.0
    del description["checksums"], description["format"], description["format_version"]
    write_model_file(tmp_path / "m.nnet", description, tensors)
    with pytest.raises(nn.ModelFileError, match="'sparse_dense'"):
        nn.load_model(tmp_path / "m.nnet")


def test_a_huge_description_is_refused_before_it_is_parsed(tmp_path):
    """A 60 MiB description peaked at +240 MiB while loading; the header's size is read first."""
    model = nn.Sequential([nn.layers.Dense(2, 3)])
    model.metadata = {"padding": "x" * (20 * 2**20)}
    model.save(tmp_path / "m.nnet")
    tracemalloc.start()
    try:
        with pytest.raises(nn.ModelFileError, match="header declares 20,9.* bytes.*at most 16,777,216"):
            nn.load_model(tmp_path / "m.nnet")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize(
    "name,data",
    [
        ("short.nnet", b"\x01\x02"),
        ("table.csv", b"colour,x,y\nblue,-0.43,1\nred,0.2,0\n"),  # its first 8 bytes read as a huge header
        ("graph.nnet", b"\x08\x08\x12\x07neuronet:\x95\x01\n\x1d"),  # what an ONNX graph starts with
    ],
)
def test_a_file_that_is_no_safetensors_file_is_named_as_such(tmp_path, name, data):
    """A CSV or an ONNX graph given where a model goes was called a model with an absurd header."""
    (tmp_path / name).write_bytes(data)
    with pytest.raises(nn.ModelFileError, match="is not a neuronet model file: it does not start as a safetensors"):
        nn.load_model(tmp_path / name)


def test_an_input_shape_of_65_axes_is_a_model_file_error(tmp_path):
    path = dense_file(tmp_path / "m.nnet", extra={"input_shape": [1] * 65})
    with pytest.raises(nn.ModelFileError, match="input_shape must have 1 to 16 axes, got 65"):
        nn.load_model(path)


# -- the names a model is saved under --------------------------------------------------------------
def test_paths_may_be_bytes_even_undecodable_ones(tmp_path):
    model, X, _ = trained_model()
    for name in (b"m.nnet", b"caf\xe9-\xff.nnet"):
        path = os.path.join(os.fsencode(tmp_path), name)
        model.save(path)
        np.testing.assert_array_equal(nn.load_model(path).predict(X), model.predict(X))
    with pytest.raises(FileNotFoundError, match="no model file"):
        nn.load_model(os.path.join(os.fsencode(tmp_path), b"gone-\xff.nnet"))
    for bad in (3, None, 2.5):
        with pytest.raises(TypeError, match="path must be a file name"):
            model.save(bad)
        with pytest.raises(TypeError, match="path must be a file name"):
            nn.load_model(bad)


@pytest.mark.parametrize(
    "name,points_to",
    [("m.onnx", "nn.onnx.export"), ("m.keras", "Keras"), ("m.pt", "to_torch_state_dict"), ("m.PKL", "never pickles")],
)
def test_a_name_for_another_programs_format_is_refused(tmp_path, name, points_to):
    model = nn.Sequential([nn.layers.Dense(2, 3)])
    with pytest.raises(ValueError, match=rf"ends in \.{name.split('.')[1].lower()}.*{points_to}.*\.nnet"):
        model.save(tmp_path / name)
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "m.safetensors")  # what it is: a safetensors file
    model.save(tmp_path / "model")  # or no extension at all


OLD_FILES = os.path.join(os.path.dirname(__file__), "data", "saved_by_0.1.0")


def test_files_saved_before_the_core_was_redesigned_load_and_predict_the_same():
    """Files written by the code before issue 21 (commit 56dc860): a CNN, a text model (Embedding,
    Bidirectional LSTM) and a GAN load and give the outputs that code gave."""
    saved = np.load(os.path.join(OLD_FILES, "inputs_and_outputs.npz"))
    for name in ("cnn", "text"):
        model = nn.load_model(os.path.join(OLD_FILES, f"{name}.nnet"))
        np.testing.assert_allclose(model.predict(saved[f"{name}_x"]), saved[f"{name}_y"], rtol=1e-6, atol=1e-7)
    gan = nn.load_gan(os.path.join(OLD_FILES, "gan.nnet"))
    np.testing.assert_allclose(gan.generator.predict(saved["gan_z"]), saved["gan_y"], rtol=1e-6, atol=1e-7)


def test_a_command_line_model_saved_before_the_redesign_predicts_the_same(tmp_path):
    from neuronet.cli import main

    out = tmp_path / "predictions.csv"
    main(["predict", os.path.join(OLD_FILES, "table.nnet"), os.path.join(OLD_FILES, "table.csv"), "--out", str(out)])
    now = np.loadtxt(out, delimiter=",", skiprows=1)
    before = np.loadtxt(os.path.join(OLD_FILES, "table_predictions.csv"), delimiter=",", skiprows=1)
    np.testing.assert_allclose(now, before, rtol=1e-4)
