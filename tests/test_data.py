"""Data tools: splits, folds, cross-validation, scalers, one-hot, batches, augmentation."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.gradcheck import check_layer


def labelled(n=100, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(k, n, p=[0.6, 0.3, 0.1][:k] if k == 3 else None)
    return np.arange(n, dtype=float)[:, None] * np.ones((1, 2)), y


def test_train_val_test_split_is_seeded_disjoint_and_complete():
    X, y = labelled()
    (a, ya), (b, yb), (c, yc) = nn.data.train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=1)
    assert (len(a), len(b), len(c)) == (70, 20, 10)
    ids = np.concatenate([a[:, 0], b[:, 0], c[:, 0]])
    assert sorted(ids) == list(range(100))
    np.testing.assert_array_equal(y[a[:, 0].astype(int)], ya)
    again = nn.data.train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=1)
    np.testing.assert_array_equal(again[1][0], b)


def test_stratified_split_keeps_class_proportions():
    X, y = labelled(1000)
    parts = nn.data.train_val_test_split(X, y, val_size=0.2, test_size=0.2, stratify=True, seed=0)
    overall = np.bincount(y) / len(y)
    for _, yp in parts:
        np.testing.assert_allclose(np.bincount(yp, minlength=3) / len(yp), overall, atol=0.005)


@pytest.mark.parametrize("folder", [nn.data.KFold(5, seed=0), nn.data.StratifiedKFold(5, seed=0)])
def test_folds_are_disjoint_and_cover_the_data(folder):
    X, y = labelled(103)
    seen = []
    for train, val in folder.split(X, y):
        assert not set(train) & set(val) and len(train) + len(val) == 103
        seen.extend(val)
    assert sorted(seen) == list(range(103))


def test_stratified_folds_stratify():
    X, y = labelled(500)
    overall = np.bincount(y) / len(y)
    for _, val in nn.data.StratifiedKFold(5, seed=0).split(X, y):
        np.testing.assert_allclose(np.bincount(y[val], minlength=3) / len(val), overall, atol=0.01)
    unstratified = [np.bincount(y[v], minlength=3)[2] for _, v in nn.data.KFold(5, shuffle=False).split(X, y)]
    assert len(set(unstratified)) > 1  # plain folds do vary, so the test above could fail


def test_cross_validate_reports_each_fold_and_mean_std():
    X, y = nn.datasets.load_digits()
    X, y = X[:500] / 16.0, y[:500]

    def build():
        model = nn.Sequential([nn.layers.Dense(64, 10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
        return model

    result = nn.data.cross_validate(build, X, y, k=4, fit_kwargs={"epochs": 5}, stratify=True, seed=0)
    accs = [f["accuracy"] for f in result["folds"]]
    assert len(accs) == 4 and all(a > 0.8 for a in accs)
    assert result["mean"]["accuracy"] == pytest.approx(np.mean(accs))
    assert result["std"]["accuracy"] == pytest.approx(np.std(accs))


def test_scalers_fit_on_training_data_only():
    train = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    test = np.array([[8.0, 12.0]])
    std = nn.data.StandardScaler().fit(train)
    np.testing.assert_allclose(std.transform(test), [[(8 - 2) / np.std([0, 2, 4]), 2.0]])
    mm = nn.data.MinMaxScaler().fit(train)
    np.testing.assert_allclose(mm.transform(test), [[2.0, 2.0]])
    np.testing.assert_allclose(mm.inverse_transform(mm.transform(test)), test)
    with pytest.raises(RuntimeError, match="fit"):
        nn.data.MinMaxScaler().transform(test)


def test_one_hot():
    np.testing.assert_array_equal(nn.data.one_hot([2, 0], 4), [[0, 0, 1, 0], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.1"):
        nn.data.one_hot([0, 2], 2)


def test_batches_cover_the_data_once():
    X = np.arange(10)
    got = np.concatenate(list(nn.data.batches(X, batch_size=3, shuffle=False)))
    np.testing.assert_array_equal(got, X)
    shuffled = [b for b, _ in nn.data.batches(X, X * 2, batch_size=4, shuffle=True)]
    assert [len(b) for b in shuffled] == [4, 4, 2] and sorted(np.concatenate(shuffled)) == list(range(10))


AUGMENTATIONS = [
    lambda: nn.layers.RandomFlip("horizontal_and_vertical"),
    lambda: nn.layers.RandomRotation(0.1),
    lambda: nn.layers.RandomZoom(0.2),
    lambda: nn.layers.RandomTranslation(0.2, 0.1),
    lambda: nn.layers.GaussianNoise(0.3),
]


@pytest.mark.parametrize("make", AUGMENTATIONS)
def test_augmentation_changes_only_training_batches_and_is_seeded(make):
    x = np.random.default_rng(0).random((16, 8, 8, 2)).astype(np.float32)
    layer = make()
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    nn.set_seed(5)
    a = layer.forward(x, training=True)
    nn.set_seed(5)
    b = layer.forward(x, training=True)
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, x)


@pytest.mark.parametrize("make", AUGMENTATIONS)
def test_augmentation_gradients(float64, make):
    x = np.random.default_rng(1).standard_normal((3, 5, 6, 2))
    for name, err in check_layer(make(), x, training=True).items():
        assert err < 1e-6, name


def test_rotation_by_a_quarter_turn_is_exact():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    layer = nn.layers.RandomRotation(0.25)
    layer.transforms = lambda n, h, w: (np.array([[[0.0, -1.0], [1.0, 0.0]]]), np.zeros((1, 2)))
    np.testing.assert_allclose(layer.forward(x, training=True)[0, :, :, 0], np.rot90(x[0, :, :, 0], k=-1), atol=1e-6)


def test_translation_shifts_pixels_and_labels_stay_put():
    x = np.zeros((1, 5, 5, 1), np.float32)
    x[0, 2, 2, 0] = 1.0
    layer = nn.layers.RandomTranslation(0.2)
    layer.transforms = lambda n, h, w: (np.eye(2)[None], -np.array([[1.0, -2.0]]))
    y = layer.forward(x, training=True)
    assert y[0, 3, 0, 0] == 1.0 and y.sum() == 1.0


def test_augmented_model_trains_and_evaluates_on_clean_images():
    X, y = nn.datasets.load_digits()
    X = (X / 16.0).reshape(-1, 8, 8, 1)
    model = nn.Sequential(
        [
            nn.layers.RandomTranslation(0.1),
            nn.layers.RandomRotation(0.03),
            nn.layers.Flatten(),
            nn.layers.Dense(64, 64, activation="relu"),
            nn.layers.Dense(64, 10, activation="softmax"),
        ],
        input_shape=(8, 8, 1),
    )
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    model.fit(X[:1400], y[:1400], epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(X[1400:], y[1400:])["accuracy"] > 0.9
    np.testing.assert_array_equal(model.predict(X[:5]), model.predict(X[:5]))  # no randomness at inference
    assert "(None, 8, 8, 1)" in model.summary(print_fn=lambda s: None)


def test_augmentation_rejects_non_images():
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        nn.layers.RandomFlip().forward(np.zeros((3, 4)), training=True)


def test_scalers_handle_constant_features_and_round_trip_their_config():
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    for cls in (nn.data.StandardScaler, nn.data.MinMaxScaler):
        fitted = cls().fit(train)
        rebuilt = cls(**fitted.get_config())
        np.testing.assert_allclose(rebuilt.transform([[2.0, 7.0]]), fitted.transform([[2.0, 7.0]]))
        assert np.isfinite(fitted.transform(train)).all() and not fitted.transform(train)[:, 1].any()


def test_sliding_windows_pair_each_window_with_what_follows():
    series = np.arange(10.0)
    x, y = nn.data.sliding_windows(series, lookback=4, horizon=2)
    assert x.shape == (5, 4, 1) and y.shape == (5, 2)
    for i in range(5):
        np.testing.assert_array_equal(x[i, :, 0], series[i : i + 4])
        np.testing.assert_array_equal(y[i], series[i + 4 : i + 6])
    table = np.arange(20.0).reshape(10, 2)  # two features per step
    x, y = nn.data.sliding_windows(table, 3)
    assert x.shape == (7, 3, 2) and y.shape == (7, 1, 2)
    np.testing.assert_array_equal(x[2], table[2:5])
    np.testing.assert_array_equal(y[2, 0], table[5])
    x[0] = -1  # copies: the series is untouched
    assert table.min() == 0


def test_sliding_windows_refuse_what_cannot_be_windowed():
    with pytest.raises(ValueError, match="no window of lookback 8 \\+ horizon 3"):
        nn.data.sliding_windows(np.arange(10.0), 8, 3)
    with pytest.raises(ValueError, match="lookback must be >= 1"):
        nn.data.sliding_windows(np.arange(10.0), 0)
    with pytest.raises(ValueError, match="1-D \\(time,\\) or 2-D"):
        nn.data.sliding_windows(np.zeros((4, 3, 2)), 1)
    with pytest.raises(ValueError, match="NaN"):
        nn.data.sliding_windows([1.0, np.nan, 2.0, 3.0], 2)


def test_the_co2_series_is_monthly_and_weekly_with_no_gaps():
    months, ppm = nn.datasets.co2()
    assert len(months) == len(ppm) == 526 and str(months[0]) == "1958-03" and str(months[-1]) == "2001-12"
    assert (np.diff(months) == np.timedelta64(1, "M")).all() and np.isfinite(ppm).all()
    assert 310 < ppm.min() < 320 < 365 < ppm.max() < 375  # it rises over the years
    weeks, weekly = nn.datasets.co2(monthly=False)
    assert len(weeks) == 2284 and np.isfinite(weekly).all()
    march_1958 = weekly[(weeks >= np.datetime64("1958-03-01")) & (weeks < np.datetime64("1958-04-01"))]
    assert ppm[0] == pytest.approx(march_1958.mean())
