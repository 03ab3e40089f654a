"""Text tools: tokenizer, padding, CSV loading, the generated sentiment data."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.text import OOV, PAD, Tokenizer, load_text_csv, pad_sequences


def test_tokenizer_lowercases_splits_punctuation_and_orders_by_frequency():
    tok = Tokenizer().fit(["Good film, GOOD acting, good!", "bad film"])
    assert tok.tokenize("Good film, isn't it?") == ["good", "film", ",", "isn't", "it", "?"]
    index = tok.word_index
    assert index["good"] == 2 and index["film"] < index["acting"]  # most frequent first; ids 0 and 1 are reserved
    assert tok.texts_to_sequences(["good unknown film"]) == [[2, OOV, index["film"]]]
    assert tok.vocab_size == len(tok.word_index) + 2
    assert Tokenizer(keep_punctuation=False).tokenize("no, really!") == ["no", "really"]


def test_vocabulary_size_limit_and_config_round_trip():
    tok = Tokenizer(num_words=4).fit(["a a a b b c"])
    assert tok.word_index == {"a": 2, "b": 3} and tok.vocab_size == 4
    assert tok.texts_to_sequences(["c b"]) == [[OOV, 3]]
    again = Tokenizer.from_config(tok.get_config())
    assert again.texts_to_sequences(["a b c"]) == tok.texts_to_sequences(["a b c"])
    with pytest.raises(RuntimeError, match="fit"):
        Tokenizer().texts_to_sequences(["x"])


@pytest.mark.parametrize(
    "padding,truncating,expected",
    [
        ("pre", "pre", [[0, 0, 1, 2], [4, 5, 6, 7]]),
        ("post", "post", [[1, 2, 0, 0], [3, 4, 5, 6]]),
        ("pre", "post", [[0, 0, 1, 2], [3, 4, 5, 6]]),
    ],
)
def test_pad_sequences(padding, truncating, expected):
    out = pad_sequences([[1, 2], [3, 4, 5, 6, 7]], maxlen=4, padding=padding, truncating=truncating)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)
    assert pad_sequences([[1], [2, 3]]).shape == (2, 2) and PAD == 0


def test_load_text_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"great, really great",pos\nawful,neg\n')
    texts, labels, classes = load_text_csv(path)
    assert texts == ["great, really great", "awful"] and classes == ["neg", "pos"]
    np.testing.assert_array_equal(labels, [1, 0])
    with pytest.raises(ValueError, match="no column named 'sentence'"):
        load_text_csv(path, text_column="sentence")


def test_sentiment_data_is_seeded_and_defeats_a_bag_of_words():
    texts, labels = nn.datasets.sentiment(500, seed=3)
    assert texts == nn.datasets.sentiment(500, seed=3)[0] and set(labels) == {0, 1}
    bags = {}
    for text, label in zip(texts, labels):
        bags.setdefault(tuple(sorted(text.split())), set()).add(label)
    assert any(len(v) == 2 for v in bags.values())  # the same words with both labels: order decides


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Tokenizer().fit("the cat sat"), r"texts must be a list of texts, got a single str \('the cat sat'\)"),
        (lambda: Tokenizer().fit(b"the cat"), "texts must be a list of texts, got a single bytes"),
        (lambda: Tokenizer().fit(5), "texts must be a list of texts"),
        (lambda: Tokenizer().fit(["a cat", 5]), r"texts\[1\] must be a string, got 5"),
        (lambda: Tokenizer().fit(["the cat"]).texts_to_sequences("the cat"), "pass \\[text\\] for one text"),
    ],
)
def test_a_bare_string_is_not_a_list_of_texts(call, match):
    with pytest.raises(nn.checks.ArgumentError, match=match):
        call()


def test_a_generator_of_texts_is_a_list_of_texts():
    tok = Tokenizer().fit(text for text in ["a cat", "a dog"])
    assert tok.texts_to_sequences(iter(["a dog"])) == [[tok.word_index["a"], tok.word_index["dog"]]]


@pytest.mark.parametrize(
    "sequences, match",
    [
        ([[1.7, 2.2], [3]], r"sequences\[0\] \(token ids\) must hold whole numbers, got 1.7"),
        ([[1, 2], [-3]], r"sequences\[1\] \(token ids\) must hold numbers >= 0, got -3"),
        ([[1, np.nan]], r"sequences\[0\] \(token ids\) must hold whole numbers, got nan"),
        ([["a", "b"]], r"sequences\[0\] holds text"),
        ([[1, None]], r"sequences\[0\] holds None"),
        ([5], r"sequences\[0\] must be a list of token ids"),
        ([[[1, 2]]], r"sequences\[0\] must be a list of token ids, got an array of shape \(1, 2\)"),
    ],
)
def test_pad_sequences_refuses_ids_that_are_not_whole_numbers_from_0(sequences, match):
    with pytest.raises(nn.checks.ArgumentError, match=match):
        pad_sequences(sequences)


def test_pad_sequences_takes_whole_floats_and_arrays_as_ids():
    np.testing.assert_array_equal(pad_sequences([np.array([1.0, 2.0]), np.array([3], np.uint8), []]),
                                  [[1, 2], [0, 3], [0, 0]])  # fmt: skip
