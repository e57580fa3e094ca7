"""benchmarks/machinecurve_autoencoders.py builds MachineCurve's two autoencoders exactly."""

import importlib.util
import math
from pathlib import Path

import keras
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "machinecurve_autoencoders.py"


@pytest.fixture(scope="module")
def bench():
    """The benchmark, imported from its file with training forbidden: importing must not fit."""
    real_fit = keras.Model.fit

    def no_fit(*args, **kwargs):
        raise AssertionError("the benchmark trained a model on import")

    keras.Model.fit = no_fit
    try:
        spec = importlib.util.spec_from_file_location("machinecurve_autoencoders", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        keras.Model.fit = real_fit
    return module


def shapes(model):
    return [tuple(layer.output.shape[1:]) for layer in model.layers]


def params(model):
    return [layer.count_params() for layer in model.layers]


def initializer(layer):
    return type(layer.kernel_initializer).__name__


# -------------------------------------------------------------- UpSampling2D model


def test_upsampling_model_matches_the_posts_summary(bench):
    model = bench.upsampling_autoencoder()
    assert model.count_params() == 1393
    assert model.input_shape == (None, 28, 28, 1)
    assert shapes(model) == [
        (28, 28, 8), (14, 14, 8), (14, 14, 8), (7, 7, 8), (4, 4, 8), (4, 4, 8),
        (8, 8, 8), (7, 7, 8), (14, 14, 8), (14, 14, 8), (28, 28, 8), (28, 28, 1),
    ]
    assert params(model) == [40, 0, 264, 0, 264, 264, 0, 264, 0, 264, 0, 33]
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D", "UpSampling2D",
                     "Conv2D", "UpSampling2D", "Conv2D", "UpSampling2D", "Conv2D"]


def test_upsampling_model_layer_settings(bench):
    layers = bench.upsampling_autoencoder().layers
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Conv2D)]
    assert all(layers[i].kernel_size == (2, 2) for i in convs)
    assert [layers[i].strides for i in convs] == [(1, 1), (1, 1), (2, 2), (1, 1), (1, 1), (1, 1), (1, 1)]
    # The decoder's first convolution after upsampling is 'valid': it crops 8x8 to 7x7.
    assert [layers[i].padding for i in convs] == ["same", "same", "same", "same", "valid", "same", "same"]
    # He uniform as the post sets it; Keras' default (Glorot uniform) on the 'valid' one and the output.
    assert [initializer(layers[i]) for i in convs] == ["HeUniform"] * 4 + ["GlorotUniform", "HeUniform",
                                                                           "GlorotUniform"]
    assert [layers[i].activation.__name__ for i in convs] == ["relu"] * 6 + ["sigmoid"]
    pools = [layer for layer in layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert [(p.pool_size, p.padding) for p in pools] == [((2, 2), "same")] * 2
    ups = [layer for layer in layers if isinstance(layer, keras.layers.UpSampling2D)]
    assert [(u.size, u.interpolation) for u in ups] == [((2, 2), "bilinear")] * 3


def test_the_upsampling_layers_interpolate_bilinearly(bench):
    up = next(layer for layer in bench.upsampling_autoencoder().layers
              if isinstance(layer, keras.layers.UpSampling2D))
    image = np.array([[0.0, 1.0], [2.0, 3.0]], dtype="float32").reshape(1, 2, 2, 1)
    out = keras.ops.convert_to_numpy(up(image))[0, :, :, 0]
    # Half-pixel centres: 2 -> 4 samples the input at -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
    # Nearest neighbour would give [0, 0, 1, 1] in the first row.
    np.testing.assert_allclose(out[0], [0.0, 0.25, 0.75, 1.0], atol=1e-6)
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5, 1.5, 2.0], atol=1e-6)
    assert up.count_params() == 0


# ----------------------------------------------------------- Conv2DTranspose model


def test_transpose_model_matches_its_post(bench):
    model = bench.transpose_autoencoder()
    assert model.count_params() == 12785
    sides = [model.input_shape[1]] + [s[0] for s in shapes(model)]
    assert sides == [28, 26, 24, 22, 24, 26, 28, 28]
    assert [s[2] for s in shapes(model)] == [32, 16, 8, 8, 16, 32, 1]
    assert params(model) == [320, 4624, 1160, 584, 1168, 4640, 289]
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D"] * 3 + ["Conv2DTranspose"] * 3 + ["Conv2D"]
    layers = model.layers
    assert all(layer.kernel_size == (3, 3) and layer.strides == (1, 1) for layer in layers)
    assert [layer.padding for layer in layers] == ["valid"] * 6 + ["same"]
    assert [initializer(layer) for layer in layers] == ["HeNormal"] * 6 + ["GlorotUniform"]
    assert [layer.activation.__name__ for layer in layers] == ["relu"] * 6 + ["sigmoid"]


def test_the_narrowest_points(bench):
    """The UpSampling2D model squeezes each digit into 128 numbers; the Conv2DTranspose one never
    goes below 3,872, more than the 784 pixels."""
    narrowest = {name: min(math.prod(s) for s in shapes(build())[:-1])  # the hidden layers
                 for name, build in bench.BUILDERS.items()}
    assert narrowest == {"upsampling": 128, "transpose": 3872}


# ------------------------------------------------------------------ the bookkeeping


def test_budget_arithmetic(bench):
    assert bench.post_steps(25) == 48_000  # 1,920 steps per epoch, 25 epochs
    assert bench.post_steps(1000) == 1_200
    assert bench.steps_per_epoch(8000, 25) == 256  # 6,400 fitted images
    assert bench.steps_per_epoch(8000, 1000) == 7
    assert bench.matched_epochs(8000, 25) == 188
    assert bench.matched_epochs(60_000, 25) == 25  # the full MNIST needs no more epochs


def test_test_score_is_keras_binary_cross_entropy(bench):
    rng = np.random.default_rng(0)
    target = rng.random((3, 28, 28, 1)).astype("float32")
    predicted = rng.random((3, 28, 28, 1)).astype("float32")
    predicted[0, 0, 0, 0] = 0.0  # clipped, not infinite
    expected = float(keras.ops.mean(keras.losses.binary_crossentropy(target, predicted)))
    assert bench.binary_cross_entropy(target, predicted) == pytest.approx(expected, rel=1e-5)


def test_train_records_what_the_report_needs(bench):
    images = np.random.default_rng(1).random((20, 28, 28, 1)).astype("float32")
    run = bench.train("upsampling", images, images[:4], seed=3, batch_size=8, epochs=2)
    assert run["params"] == 1393
    assert run["steps_per_epoch"] == 2 and run["steps"] == 4  # 16 fitted images, 4 for validation
    assert len(run["loss_curve"]) == len(run["val_loss_curve"]) == 2
    assert run["final_val_loss"] == run["val_loss_curve"][-1]
    assert 0 < run["test_bce"] < 5


def test_summary_over_seeds(bench):
    def run(seed, final):
        curve = [0.3, 0.25, 0.2, 0.18, 0.17, 0.16, final]
        return {"model": "upsampling", "batch_size": 25, "seed": seed, "kind": "posts' budget", "epochs": 7,
                "steps": 1792, "params": 1393, "final_loss": final + 0.01, "final_val_loss": final,
                "test_bce": final, "seconds": 10.0 * seed, "val_loss_curve": curve}

    long_run = {**run(1, 0.1), "kind": "posts' steps"}
    (row,) = bench.summarize([run(1, 0.14), run(2, 0.12), run(3, 0.13), long_run])
    assert row["seeds"] == [1, 2, 3]
    assert row["final_val_loss"]["mean"] == pytest.approx(0.13)
    assert (row["final_val_loss"]["min"], row["final_val_loss"]["max"]) == (0.12, 0.14)
    assert row["final_val_loss"]["std"] == pytest.approx(0.01)
    assert row["val_loss_drop_last_5_epochs"]["mean"] == pytest.approx(0.25 - 0.13)
    assert row["post_loss"] == 0.11 and row["post_steps"] == 48_000
