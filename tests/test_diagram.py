"""nn.plot.model_diagram: an SVG of the layers and the graph's edges, written with no Graphviz; a PNG of the same
layout through matplotlib. The SVG parses as XML, names every layer, and holds one arrow per edge."""

import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import neuronet as nn
from neuronet import demos, diagram

L = nn.layers
SVG = "{http://www.w3.org/2000/svg}"


def drawn(model, tmp_path):
    path = tmp_path / "model.svg"
    text = nn.plot.model_diagram(model, path)
    assert path.read_text(encoding="utf-8") == text
    return ET.parse(path).getroot()


def edges_of(model) -> Counter:
    """The graph's edges as (source label, target label), labels as the diagram writes them."""
    graph, labels, calls = model.graph, [], {}
    for node in graph.nodes:
        if node.is_input:
            labels.append(node.name)
        else:
            k = calls[node.layer.name] = calls.get(node.layer.name, -1) + 1
            labels.append(node.layer.name if k == 0 else f"{node.layer.name}:{k}")
    return Counter((labels[p], labels[i]) for i, parents in enumerate(graph.parents) for p in parents)


def check(model, tmp_path):
    root = drawn(model, tmp_path)
    arrows = root.findall(f".//{SVG}path[@class='edge']")
    expected = edges_of(model)
    assert len(arrows) == sum(expected.values())  # one arrow per edge of the graph
    assert Counter((a.get("data-from"), a.get("data-to")) for a in arrows) == expected
    text = " ".join(t.text for t in root.iter(f"{SVG}text"))
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in text
        if layer.built:
            assert f"{sum(p.data.size for p in layer.parameters()):,} parameters" in text
    boxes = root.findall(f".//{SVG}g[@class='layer']") + root.findall(f".//{SVG}g[@class='input']")
    assert len(boxes) == len(model.graph.nodes)
    return root, text


def test_a_sequential_cnn_shows_its_shapes_and_counts(tmp_path):
    model = demos.digits_cnn()
    _, text = check(model, tmp_path)
    assert "output (None, 8, 8, 16)" in text and "4,640 parameters" in text and "shape (None, 8, 8, 1)" in text


def test_a_residual_model_draws_its_skip_connections_beside_the_boxes(tmp_path):
    model = demos.digits_resnet()
    root, _ = check(model, tmp_path)
    drawn_layout = diagram.layout(model)
    right = max(b.x + b.width for b in drawn_layout.boxes)
    skips = [a for a in drawn_layout.arrows if a.target.startswith("add")]
    assert len(skips) == 4  # two blocks, each Add reading the block's input and F(x)
    assert sum(any(x > right for x, _ in a.points) for a in skips) == 2  # the skips run in a lane, past every box


def test_two_inputs_two_outputs(tmp_path):
    a, b = nn.Input(shape=(4,), name="left"), nn.Input(shape=(3,), name="right")
    h = L.Concatenate()([L.Dense(5, activation="relu")(a), b])
    model = nn.Model([a, b], [L.Dense(2, activation="softmax")(h), L.Dense(1)(h)])
    _, text = check(model, tmp_path)
    assert "left (Input)" in text and "right (Input)" in text
    assert "output 0" in text and "output 1" in text


def test_a_shared_layer_has_a_box_per_call_and_its_parameters_once(tmp_path):
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    shared = L.Dense(3, activation="tanh")
    model = nn.Model([a, b], L.Dense(1)(L.Add()([shared(a), shared(b)])))
    root, text = check(model, tmp_path)
    names = [g.get("data-name") for g in root.findall(f".//{SVG}g[@class='layer']")]
    assert "dense" in names and "dense:1" in names
    assert "parameters shared with dense" in text and text.count("15 parameters") == 1


def test_a_layer_called_on_one_node_twice_gets_two_arrows(tmp_path):
    x = nn.Input(shape=(4,))
    h = L.Dense(4)(x)
    model = nn.Model(x, L.Dense(1)(L.Add()([h, h])))
    check(model, tmp_path)  # (the Add's two arrows from dense are counted above)


def test_a_model_not_built_yet_draws_question_marks(tmp_path):
    _, text = check(nn.Sequential([L.Dense(8, activation="relu"), L.Dense(2)]), tmp_path)
    assert "output ?" in text and "? parameters" in text


def test_names_that_are_markup_are_escaped(tmp_path):
    x = nn.Input(shape=(2,), name="a<b & c>")
    check(nn.Model(x, L.Dense(1)(x)), tmp_path)  # parses as XML


def test_png_through_matplotlib(tmp_path):
    pytest.importorskip("matplotlib")
    nn.plot.model_diagram(demos.digits_resnet(), tmp_path / "model.png")
    assert (tmp_path / "model.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_svg_still_works_and_a_png_says_what_to_install(tmp_path, no_matplotlib):
    model = demos.digits_mlp()
    nn.plot.model_diagram(model, tmp_path / "model.svg")
    with pytest.raises(ImportError, match=r'pip install "neuronet\[plot\]".*\.svg'):
        nn.plot.model_diagram(model, tmp_path / "model.png")


def test_bad_paths_and_empty_models_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg or \.png"):
        nn.plot.model_diagram(demos.digits_mlp(), tmp_path / "model.pdf")
    with pytest.raises(ValueError, match="no layers"):
        nn.plot.model_diagram(nn.Sequential(), tmp_path / "model.svg")
