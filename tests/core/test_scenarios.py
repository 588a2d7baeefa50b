"""The built-in scenarios reproduce the seeds' figures and learn their data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.models import param_count
from nnviz.core.scenarios import DEFAULT_SCENARIO, SCENARIOS, get_scenario
from tests.factories import make_idx_dir, make_image_folder, train_steps

DESIGN_TABLE = (
    "chain-rule",
    "autograd-mean",
    "or-gate",
    "logistic-regression",
    "scratch-mlp",
    "deep-mlp",
    "mnist-mlp",
    "apparel-mlp",
    "digits-mlp",
    "circle",
    "xor",
    "gauss",
    "spiral",
)


def default_run(scenario_id: str, **kw) -> Trainer:
    """Train a scenario with its default network, settings and length."""
    sc = get_scenario(scenario_id)
    tr = Trainer(sc, TrainConfig.for_scenario(sc), **kw)
    train_steps(tr, steps=sc.steps, epochs=sc.epochs)
    return tr


def test_every_row_of_the_design_table_is_a_scenario():
    assert set(DESIGN_TABLE) <= set(SCENARIOS)
    assert DEFAULT_SCENARIO in SCENARIOS
    for sc in SCENARIOS.values():
        assert sc.title and sc.source and sc.description
        if sc.trainable:
            assert sc.spec is not None and sc.data is not None
            assert (sc.steps is None) != (sc.epochs is None)  # one default length
            TrainConfig.for_scenario(sc).validate()
        else:
            assert sc.expression is not None


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(NnvizError, match=r"unknown scenario 'nope'.*nnviz scenarios"):
        get_scenario("nope")


def test_chain_rule_figures():
    out, leaves = get_scenario("chain-rule").expression()
    out.backward()
    assert out.item() == 33
    assert [leaves[k].grad.item() for k in "abc"] == [3, 6, 9]


def test_autograd_mean_figures():
    out, leaves = get_scenario("autograd-mean").expression()
    out.backward()
    assert leaves["a"].grad.shape == (2, 2)
    assert torch.all(leaves["a"].grad == 0.25)


def test_mnist_mlp_has_669706_parameters():
    sc = get_scenario("mnist-mlp")
    model = sc.build_model()
    assert param_count(model) == 669_706
    assert [p.shape[::-1] for n, p in model.named_parameters() if n.endswith("weight")] == [
        (784, 512),
        (512, 512),
        (512, 10),
    ]


def test_scratch_mlp_predicts_the_seeds_outputs():
    tr = default_run("scratch-mlp")
    assert tr.step_count == 5_000
    with torch.no_grad():
        pred = tr.model(tr.x_train).reshape(-1).tolist()
    assert pred[0] >= 0.95 and pred[1] >= 0.95 and pred[2] <= 0.05


def test_digits_mlp_reaches_95_percent_offline():
    tr = default_run("digits-mlp")
    assert tr.dataset.x_train.shape[1:] == (8, 8)
    assert tr.evaluate().val_accuracy >= 0.95


@pytest.mark.parametrize("scenario_id", ["circle", "xor", "gauss"])
def test_2d_sets_reach_90_percent_test_accuracy(scenario_id):
    tr = default_run(scenario_id)
    assert len(tr.dataset.x_val) >= 100  # a real held-out test split
    assert tr.evaluate().val_accuracy >= 0.9


def test_spiral_reaches_90_percent_test_accuracy_and_says_when():
    sc = get_scenario("spiral")
    tr = Trainer(sc, TrainConfig.for_scenario(sc, eval_every=20))
    first = None
    for m in train_steps(tr, epochs=sc.epochs):
        if first is None and m.eval is not None and m.eval.val_accuracy >= 0.9:
            first = m.step
    assert tr.evaluate().val_accuracy >= 0.9
    assert first is not None
    # The picker's figure says how long it takes; keep it honest.
    said = int(sc.figure.split("about ")[1].split(" ")[0].replace(",", ""))
    assert abs(first - said) <= 100, (first, said)


def test_logistic_regression_and_deep_mlp_learn():
    for scenario_id in ("logistic-regression", "deep-mlp"):
        assert default_run(scenario_id).evaluate().val_accuracy >= 0.9


def test_2d_scenarios_have_editable_hidden_layers():
    sc = get_scenario("xor")
    tr = Trainer(sc, TrainConfig.for_scenario(sc, hidden=(5, 3), activation="relu"))
    assert [layer.width for layer in tr.layers] == [5, 3, 1]
    assert [layer.activation for layer in tr.layers] == ["relu", "relu", "sigmoid"]
    assert tr.decision_field(res=8).output.shape == (8, 8)


def test_mnist_mlp_without_files_uses_the_bundled_digits_at_28x28():
    sc = get_scenario("mnist-mlp")
    ds = sc.load_data(0, None)
    assert ds.x_train.shape[1:] == (28, 28)
    assert "scikit-learn" in ds.note


def test_apparel_mlp_without_files_says_what_to_pass():
    with pytest.raises(NnvizError, match="--data DIR"):
        Trainer(get_scenario("apparel-mlp"))


def test_mnist_mlp_trains_on_idx_files(tmp_path):
    data = make_idx_dir(tmp_path / "mnist", n_train=300, n_test=40, gz=True)
    sc = get_scenario("mnist-mlp")
    tr = Trainer(sc, TrainConfig.for_scenario(sc), data_dir=data)
    assert len(tr.dataset.x_train) == 270 and len(tr.dataset.x_val) == 30  # 10 % held out
    train_steps(tr, epochs=3)
    ev = tr.evaluate()
    assert ev.val_accuracy is not None and ev.val_accuracy >= 0.8


def test_apparel_mlp_trains_on_the_seed_folder_format(tmp_path):
    data = make_image_folder(tmp_path / "apparel", n_train=200, n_test=20)
    sc = get_scenario("apparel-mlp")
    tr = Trainer(sc, TrainConfig.for_scenario(sc), data_dir=data)
    assert tr.dataset.classes[0] == "T-shirt/top" and len(tr.dataset.test_ids) == 20
    train_steps(tr, epochs=4)
    assert tr.evaluate().val_accuracy >= 0.8
    labels = tr.predict(tr.dataset.x_test)
    assert labels.shape == (20,) and np.all((labels >= 0) & (labels < 10))


def test_same_seed_same_data_and_start():
    a, b = (Trainer(get_scenario("spiral")) for _ in range(2))
    np.testing.assert_array_equal(a.dataset.x_train, b.dataset.x_train)
    for (n, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        assert torch.equal(p, q), n
