"""The CNNs, their training entry point, calibration and evaluation, on tiny real models."""

import json
from dataclasses import replace

import keras
import numpy as np
import pandas as pd
import pytest

from model.blocks import ContrastNormalization
from model.calibration import AgeCalibration, fit_age_map, fit_calibration
from model.config import CALIBRATION_FILE, ModelFiles, TrainConfig
from model.evaluate import evaluate
from model.evaluate import main as evaluate_main
from model.metrics import age_metrics, evaluate_predictions, gender_metrics, roc_auc
from model.networks import (
    PLAIN,
    TEST_VIEWS,
    View,
    build_model,
    compile_model,
    grow,
    predict_outputs,
    view_faces,
)
from model.tasks import TASKS
from model.train import learning_rate_at
from model.train import main as train_main
from testkit.synthetic import draw_face

TINY = TrainConfig(stem_width=8, widths=(8, 16), dropout=0.0)


@pytest.mark.parametrize(("task", "activation"), [("age", "relu"), ("gender", "sigmoid")])
def test_networks_output_one_unit_with_the_task_activation(task, activation):
    model = build_model(TASKS[task], TINY, input_size=32, output_bias=0.5)
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].get_config()["activation"] == activation
    output = model.predict(np.random.uniform(0, 255, (3, 32, 32, 3)).astype("float32"), verbose=0)
    if task == "age":
        assert (output >= 0).all()
    else:
        assert ((output > 0) & (output < 1)).all()


@pytest.mark.parametrize(
    ("task", "loss"), [("age", "mean_squared_error"), ("gender", "binary_crossentropy")]
)
def test_tasks_compile_with_their_loss(task, loss):
    model = build_model(TASKS[task], TINY, input_size=32)
    compile_model(model, TASKS[task], TINY)
    assert model.loss == loss
    x = np.zeros((2, 32, 32, 3), "float32")
    y = np.array([0.0, 1.0], "float32")
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])


def test_output_bias_starts_training_at_the_label_mean():
    assert TASKS["age"].output_bias(np.array([10.0, 30.0])) == pytest.approx(20.0)
    assert TASKS["gender"].output_bias(np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx(np.log(3))


def test_learning_rate_warms_up_then_decays():
    config = TrainConfig(learning_rate=1e-3, epochs=10, warmup_epochs=1)
    rates = [learning_rate_at(epoch, config) for epoch in range(10)]
    assert rates[0] < rates[1] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[1:], rates[2:], strict=False))
    assert rates[-1] < 0.2e-3


def test_metrics_match_hand_computed_values():
    age = age_metrics(np.array([10, 20, 30, 40]), np.array([12, 20, 36, 40]))
    assert age == pytest.approx(
        {"n": 4, "mae": 2.0, "mse": 10.0, "rmse": np.sqrt(10), "cs5": 0.75, "mean_error": 2.0}
    )
    gender = gender_metrics(np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.4, 0.2, 0.7, 0.8]))
    assert gender["accuracy"] == pytest.approx(0.6)
    assert gender["precision"] == pytest.approx(2 / 3)
    assert gender["recall"] == pytest.approx(2 / 3)
    assert gender["confusion_matrix"]["matrix"] == [[1, 1], [1, 2]]
    assert gender["auc"] == pytest.approx(5 / 6)
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_breakdowns_split_by_bucket_gender_and_race():
    ages = np.array([5, 25, 25, 75])
    result = evaluate_predictions(
        ages,
        np.array([0, 1, 1, 0]),
        np.array([0, 1, 2, -1]),
        ages + np.array([1, -2, 2, 10]),
        np.array([0.1, 0.9, 0.2, 0.3]),
    )
    assert set(result["by_age_bucket"]) == {"0-9", "20-29", "70-80"}
    assert result["by_age_bucket"]["20-29"]["age"]["mae"] == pytest.approx(2.0)
    assert set(result["by_young_age"]) == {"3-5"}  # the children's bands hold only the 5-year-old
    assert result["by_young_age"]["3-5"]["age"]["mean_error"] == pytest.approx(1.0)
    assert result["by_gender"]["female"]["gender"]["accuracy"] == pytest.approx(0.5)
    assert set(result["by_race"]) == {"White", "Black", "Asian"}
    assert result["age"]["mae"] == pytest.approx(3.75)
    by_year = result["predicted_by_true_age"]
    assert set(by_year) == {"5", "25", "75"}
    assert by_year["25"]["n"] == 2 and by_year["25"]["median"] == pytest.approx(25.0)
    assert (by_year["25"]["p10"], by_year["25"]["p90"]) == pytest.approx((23.4, 26.6))
    assert by_year["75"] == {"n": 1, "median": 85.0, "p10": 85.0, "p90": 85.0}


def test_conformal_intervals_cover_fresh_residuals_at_nominal_rates(tmp_path):
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 80, 12000)
    predicted = true + rng.normal(1, 1 + 0.12 * true)  # biased, wider for the old
    calibration = fit_calibration(predicted[:4000], true[:4000])
    calibration.save(tmp_path / "calibration.json")
    loaded = AgeCalibration.load(tmp_path / "calibration.json")
    for level in (0.8, 0.9):
        shown = loaded.age(predicted[4000:])
        assert loaded.coverage(shown, true[4000:], level) == pytest.approx(level, abs=0.02)
    young_low, young_high = loaded.interval([5.0], 0.9)
    old_low, old_high = loaded.interval([70.0], 0.9)
    assert (young_high - young_low)[0] < (old_high - old_low)[0]
    assert (young_low >= 0).all()


def test_the_shown_age_undoes_the_pull_towards_the_mean():
    rng = np.random.default_rng(1)
    true = rng.uniform(1, 80, 8000)
    answers = 35 + 0.7 * (true - 35) + rng.normal(0, 4, true.size)  # crowded to the middle
    calibration = fit_calibration(answers[:4000], true[:4000])
    shown = calibration.age(answers[4000:])
    fresh = true[4000:]
    children, old = fresh <= 12, fresh >= 65
    assert np.mean(answers[4000:][children] - fresh[children]) > 5
    assert abs(np.mean(shown[children] - fresh[children])) < 1.5
    assert np.mean(answers[4000:][old] - fresh[old]) < -5
    assert abs(np.mean(shown[old] - fresh[old])) < 1.5
    assert np.all(np.diff(calibration.age(np.linspace(-5, 100, 500))) >= 0)
    for level in (0.8, 0.9):
        assert calibration.coverage(shown, fresh, level) == pytest.approx(level, abs=0.03)


def test_small_faces_get_the_margins_of_their_size(tmp_path):
    """A model that reads faces seen at few pixels older and less surely: their own margins
    keep the coverage on fresh faces that the margins of clear faces lose."""
    rng = np.random.default_rng(3)
    true = rng.uniform(1, 80, 12000)
    clear = true + rng.normal(0, 3, true.size)
    small = true + 5 + rng.normal(0, 9, true.size)
    calibration = fit_calibration(
        clear[:4000], true[:4000], small_answers={20: small[:4000]}, input_size=64
    )
    calibration.save(tmp_path / "calibration.json")
    loaded = AgeCalibration.load(tmp_path / "calibration.json")
    fresh, shown_small = true[4000:], loaded.age(small[4000:])
    spans = {"at 20 pixels": 20.0, "below the smallest side": 12.0, "between sides": 40.0}
    for level in (0.8, 0.9):
        assert loaded.coverage(shown_small, fresh, level) < level - 0.3
        for span in spans.values():
            low, high = loaded.interval(shown_small, level, np.full(fresh.size, span))
            assert np.mean((fresh >= low) & (fresh <= high)) == pytest.approx(level, abs=0.02)
        shown_clear = loaded.age(clear[4000:])
        as_given = loaded.interval(shown_clear, level, np.full(fresh.size, 64.0))
        assert np.array_equal(as_given, loaded.interval(shown_clear, level))
    low, high = loaded.interval([30.0, 30.0], 0.8, [np.inf, 20.0])
    assert high[1] - low[1] > 2 * (high[0] - low[0])
    assert low[1] < 30 - 5, "margins of small faces reach down: they are read older"


def test_a_margin_always_holds_the_age_it_is_given_for():
    """Where a model reads faces of some size far too old, their interval still holds the
    shown age (it reaches down from it) instead of lying wholly below it."""
    rng = np.random.default_rng(4)
    true = rng.uniform(1, 80, 3000)
    clear = true + rng.normal(0, 3, true.size)
    calibration = fit_calibration(
        clear, true, small_answers={20: true + 20 + rng.normal(0, 1, true.size)}, input_size=64
    )
    shown = calibration.age(clear)
    for spans in (None, np.full(true.size, 20.0)):
        low, high = calibration.interval(shown, 0.8, spans)
        assert np.all(low <= shown) and np.all(shown <= high)
    low, _ = calibration.interval(shown, 0.8, np.full(true.size, 20.0))
    assert np.all(low[shown > 25] < shown[shown > 25] - 15)


def test_tied_answers_become_one_knot_of_the_age_map():
    answers = np.r_[np.zeros(300), np.linspace(1, 60, 700)]  # a ReLU's zeros tie
    true = np.r_[np.linspace(1, 3, 300), np.linspace(4, 70, 700)]
    knots, ages = fit_age_map(answers, true)
    assert np.all(np.diff(knots) > 0) and np.all(np.diff(ages) > 0)
    assert knots[0] == 0 and 1 < ages[0] < 3
    assert AgeCalibration([0.0, 1000.0], {}, {}, [], knots, ages).age([0.0])[0] == ages[0]


def test_whole_year_labels_give_an_age_map_without_steps():
    rng = np.random.default_rng(2)
    true = np.clip(np.round(rng.gamma(4, 8, 4000)), 1, 80)  # whole years, crowded in the 20s
    answers = 35 + 0.7 * (true - 35) + rng.normal(0, 4, true.size)
    knots, ages = fit_age_map(answers, true)
    assert len(knots) == 51
    assert np.all(np.diff(ages) > 0), "a range of answers would all be shown as one age"


def test_a_calibration_saved_without_an_age_map_shows_the_answer(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(
        '{"edges": [0.0, 1000.0], "lower": {"0.8": [-3.0]}, "upper": {"0.8": [4.0]}, '
        '"counts": [10]}'
    )
    calibration = AgeCalibration.load(path)
    assert calibration.age([7.5, 40.0]).tolist() == [7.5, 40.0]
    assert calibration.interval([7.5], 0.8)[1][0] == 11.5


def test_calibration_with_few_residuals_uses_one_bin():
    calibration = fit_calibration(np.array([10.0, 20.0, 30.0]), np.array([11.0, 18.0, 33.0]))
    assert calibration.counts == [3]
    low, high = calibration.interval([20.0], 0.8)
    assert low[0] <= 18.0 and high[0] >= 23.0


def test_smoke_training_writes_model_history_and_run_info(smoke_weights):
    for task in ("age", "gender"):
        files = ModelFiles(smoke_weights / "cropped", task)
        model = keras.models.load_model(files.model, compile=False)
        assert model.output_shape == (None, 1)
        history = files.history.read_text().splitlines()
        assert len(history) == 2
        assert "val_loss" in history[0] and "learning_rate" in history[0]
        run = json.loads(files.run_info.read_text())
        assert run["epochs_done"] == 1
        assert run["input_size"] == 32
        assert run["versions"]["keras"] == keras.__version__
        assert files.resume.is_file()
    assert (smoke_weights / "cropped" / CALIBRATION_FILE).is_file()


def test_resume_continues_the_epoch_count_and_wall_time(smoke_weights, prepared, tmp_path):
    import shutil

    out = tmp_path / "weights"
    shutil.copytree(smoke_weights, out)
    files = ModelFiles(out / "cropped", "gender")
    before = json.loads(files.run_info.read_text())
    assert (
        train_main(
            [
                "--task",
                "gender",
                "--variant",
                "cropped",
                "--data",
                str(prepared[0]),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--stem-width",
                "8",
                "--widths",
                "8",
                "16",
                "--resume",
            ]
        )
        == 0
    )
    after = json.loads(files.run_info.read_text())
    assert after["epochs_done"] == 2
    assert len(after["sessions"]) == 2
    assert after["total_wall_time_s"] > before["total_wall_time_s"]
    assert len(files.history.read_text().splitlines()) == 3


def test_resume_without_a_checkpoint_continues_from_the_saved_model(
    smoke_weights, prepared, tmp_path, capsys
):
    """A new machine: the optimizer checkpoint stayed on the old one, the model was shipped."""
    import shutil

    out = tmp_path / "weights"
    shutil.copytree(smoke_weights, out)
    files = ModelFiles(out / "full", "age")
    files.resume.unlink()
    before = json.loads(files.run_info.read_text())
    arguments = ["--task", "age", "--variant", "full", "--data", str(prepared[0]),
                 "--out", str(out), "--epochs", "2", "--warmup-epochs", "1", "--batch-size", "8",
                 "--stem-width", "8", "--widths", "8", "16", "--resume"]  # fmt: skip
    assert train_main(arguments) == 0
    assert "Continuing from" in capsys.readouterr().out
    after = json.loads(files.run_info.read_text())
    assert after["schedule_start"] == before["epochs_done"]
    assert after["epochs_done"] == before["epochs_done"] + 2
    assert len(after["sessions"]) == len(before["sessions"]) + 1
    history = pd.read_csv(files.history)
    assert len(history) == after["epochs_done"]
    # a fresh warm-up: the first new epoch runs at half the peak learning rate
    assert history["learning_rate"].iloc[-2] == pytest.approx(TrainConfig().learning_rate / 2)
    assert files.resume.is_file()


def test_evaluate_on_prepared_and_raw_images_agree_on_labels(
    smoke_weights, prepared, utk_folder, tmp_path
):
    on_test = evaluate("cropped", prepared[0], smoke_weights)
    assert on_test["split"] == "test"
    assert on_test["n"] == on_test["age"]["n"] > 0
    assert set(on_test["age_interval_coverage"]) == {"0.8", "0.9"}
    out = tmp_path / "metrics.json"
    assert (
        evaluate_main(
            [
                "--variant",
                "cropped",
                "--data",
                str(utk_folder),
                "--out",
                str(out),
                "--weights",
                str(smoke_weights),
                "--max-age",
                "80",
            ]
        )
        == 0
    )
    raw = json.loads(out.read_text())
    # through the demo's path: a chip where no face is found gets no cropped prediction
    under_81 = sum(1 for f in utk_folder.iterdir() if int(f.name.split("_")[0]) <= 80)
    assert raw["n"] + raw["no_face_found"] >= under_81 > raw["n"] * 0.8
    assert raw["by_age_bucket"].keys() <= {
        "0-9",
        "10-19",
        "20-29",
        "30-39",
        "40-49",
        "50-59",
        "60-69",
        "70-80",
    }


def test_each_view_moves_enlarges_or_mirrors_the_face():
    square = np.zeros((1, 16, 16, 3), np.float32)
    square[0, 6:10, 6:10] = 255  # in the centre, 4 pixels wide
    moved = view_faces(square, View(shift_x=2, shift_y=-1)).numpy()
    np.testing.assert_array_equal(moved[0, 5:9, 8:12], square[0, 6:10, 6:10])
    assert moved.sum() == square.sum()
    mirrored = view_faces(square + np.arange(16)[None, None, :, None], View(mirror=True))
    np.testing.assert_array_equal(mirrored.numpy()[0, :, ::-1], square[0] + np.arange(16)[:, None])
    closer = view_faces(square, View(zoom=2.0)).numpy()[0, :, :, 0]
    assert closer.shape == (16, 16)
    assert closer[5:11, 5:11].min() > 200 and closer[:3].max() < 1 and closer[:, 13:].max() < 1


def test_predictions_average_the_model_over_the_test_views():
    model = build_model(TASKS["age"], TrainConfig(stem_width=8, widths=(8,)), 16, 30.0)
    faces = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    each_view = [
        model(view_faces(faces.astype(np.float32), view), training=False).numpy()[:, 0]
        for view in TEST_VIEWS
    ]
    np.testing.assert_allclose(
        predict_outputs(model, faces, batch_size=2), np.mean(each_view, axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(predict_outputs(model, faces, PLAIN), each_view[0], rtol=1e-5)
    assert np.ptp(each_view, axis=0).min() > 0.01  # the check would be empty if views agreed


@pytest.mark.parametrize("keep", ["best", "last"])
def test_keep_says_whether_a_worse_last_epoch_ships(smoke_weights, prepared, tmp_path, keep):
    """Resuming from a shipped model: `best` keeps it when the new epoch is worse on
    validation, `last` ships the new epoch anyway (a training goal validation does not see)."""
    import shutil

    out = tmp_path / "weights"
    shutil.copytree(smoke_weights, out)
    files = ModelFiles(out / "cropped", "gender")
    files.resume.unlink()
    before = json.loads(files.run_info.read_text())
    shipped_weights = keras.models.load_model(files.model, compile=False).get_weights()
    arguments = ["--task", "gender", "--variant", "cropped", "--data", str(prepared[0]),
                 "--out", str(out), "--epochs", "1", "--warmup-epochs", "0", "--batch-size", "8",
                 "--stem-width", "8", "--widths", "8", "16", "--learning-rate", "50",
                 "--resume", "--keep", keep]  # fmt: skip
    assert train_main(arguments) == 0
    after = json.loads(files.run_info.read_text())
    weights = keras.models.load_model(files.model, compile=False).get_weights()
    unchanged = all(np.array_equal(a, b) for a, b in zip(weights, shipped_weights, strict=True))
    if keep == "best":
        assert unchanged and after["best_epoch"] == before["best_epoch"]
    else:
        assert not unchanged and after["best_epoch"] == after["epochs_done"]


def _trained_tiny_age_model() -> keras.Model:
    """A TINY age model after a few steps, so its batch norms are no longer the identity."""
    model = build_model(TASKS["age"], TINY, 32, 30.0)
    compile_model(model, TASKS["age"], TINY)
    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    model.fit(faces, rng.uniform(0, 80, 16).astype("float32"), epochs=3, verbose=0)
    return model


def test_a_grown_model_starts_where_the_smaller_one_stopped():
    source = _trained_tiny_age_model()
    deeper = grow(source, TINY, TASKS["age"], replace(TINY, blocks_per_stage=3), 32)
    assert deeper.count_params() > source.count_params()
    faces = np.random.default_rng(1).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict_outputs(deeper, faces), predict_outputs(source, faces))

    larger = grow(source, TINY, TASKS["age"], TINY, 48)
    assert larger.input_shape == (None, 48, 48, 3)
    for a, b in zip(larger.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _luminance(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, np.float64).mean(axis=-1)


def _with_contrast(face: np.ndarray, mean: float, std: float) -> np.ndarray:
    """The face's pixels moved and scaled so that its luminance has this mean and spread."""
    luminance = _luminance(face)
    return (face - luminance.mean()) * (std / luminance.std()) + mean


def test_contrast_normalisation_gives_faded_and_dark_faces_back_their_contrast():
    layer = ContrastNormalization()
    face = np.asarray(draw_face(64, seed=3), np.float64)
    clean = _with_contrast(face, layer.centre, layer.spread)
    faded, dark = _with_contrast(face, 170, 20), _with_contrast(face, 60, 30)
    out = keras.ops.convert_to_numpy(layer(np.stack([clean, faded, dark]).astype("float32")))
    np.testing.assert_allclose(out[0], np.clip(clean, 0, 255), atol=1e-3)  # a chip keeps it
    np.testing.assert_allclose(_luminance(out).mean(axis=(1, 2)), layer.centre, atol=0.5)
    spreads = _luminance(out).std(axis=(1, 2))
    assert spreads[1] > 2 * 20 * 0.9 and spreads[2] > 1.5 * 30  # most of the contrast back
    black = keras.ops.convert_to_numpy(layer(np.zeros((1, 8, 8, 3), "float32")))
    np.testing.assert_allclose(black, layer.centre)


def test_contrast_normalisation_of_faded_faces_only_leaves_clean_faces_as_they_are():
    layer = ContrastNormalization(below=33.0)
    face = np.asarray(draw_face(64, seed=3), np.float64)
    faces = np.clip(
        [
            _with_contrast(face, 115, 52),
            _with_contrast(face, 145, 60),
            _with_contrast(face, 170, 20),
        ],
        0,
        255,
    ).astype("float32")  # a clean chip, a bright one, a faded one
    out = keras.ops.convert_to_numpy(layer(faces))
    np.testing.assert_allclose(out[:2], faces[:2], atol=1.0)
    everything = keras.ops.convert_to_numpy(ContrastNormalization()(faces[1:2]))
    assert np.abs(everything[0] - faces[1]).mean() > 15  # where the ungated layer darkens it
    spread = _luminance(out[2]).std()
    assert spread > 2 * 20 * 0.85  # a faded face gets most of its contrast back, as ungated
    np.testing.assert_allclose(_luminance(out[2]).mean(), layer.centre, atol=3.0)


@pytest.mark.parametrize("below", [0.0, 33.0])
def test_a_model_grown_with_contrast_normalisation_keeps_its_weights(tmp_path, below):
    source = _trained_tiny_age_model()
    target = replace(TINY, contrast=True, contrast_below=below)
    normalised = grow(source, TINY, TASKS["age"], target, 32)
    assert normalised.get_layer("contrast").below == (below or None)
    for a, b in zip(normalised.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    faces = np.random.default_rng(2).uniform(40, 200, (4, 32, 32, 3)).astype("float32")
    evened = keras.ops.convert_to_numpy(normalised.get_layer("contrast")(faces))
    np.testing.assert_allclose(  # the source model, on the faces with their contrast evened
        normalised.predict(faces, verbose=0), source.predict(evened, verbose=0), rtol=1e-5
    )
    normalised.save(tmp_path / "age.keras")
    loaded = keras.models.load_model(tmp_path / "age.keras", compile=False)
    expected = normalised.predict(faces, verbose=0)
    np.testing.assert_array_equal(loaded.predict(faces, verbose=0), expected)


def test_growing_refuses_other_widths():
    with pytest.raises(ValueError, match="widths"):
        grow(_trained_tiny_age_model(), TINY, TASKS["age"], replace(TINY, widths=(8, 32)), 32)


def test_resume_with_more_blocks_grows_the_saved_model(smoke_weights, prepared, tmp_path, capsys):
    import shutil

    out = tmp_path / "weights"
    shutil.copytree(smoke_weights, out)
    files = ModelFiles(out / "cropped", "age")
    before = json.loads(files.run_info.read_text())
    arguments = ["--task", "age", "--variant", "cropped", "--data", str(prepared[0]),
                 "--out", str(out), "--epochs", "1", "--batch-size", "8", "--stem-width", "8",
                 "--widths", "8", "16", "--resume", "--blocks-per-stage", "2"]  # fmt: skip
    assert train_main(arguments) == 0  # a checkpoint is there, but of the smaller model
    assert "Grown to" in capsys.readouterr().out
    after = json.loads(files.run_info.read_text())
    assert after["config"]["blocks_per_stage"] == 2
    assert after["parameters"] > before["parameters"]
    saved = keras.models.load_model(files.model, compile=False)
    assert saved.count_params() == after["parameters"]

    longer = [*arguments, "--epochs", "2"]  # the same schedule, one epoch longer
    assert train_main(longer) == 0  # the checkpoint is of this size now: a plain resume
    assert "Resuming" in capsys.readouterr().out
    assert json.loads(files.run_info.read_text())["epochs_done"] == after["epochs_done"] + 1


def test_ema_ships_the_weight_average_that_validation_scored(smoke_weights, prepared, tmp_path):
    """Three epochs from the same shipped model at learning rate 1e-3. Adam's first step
    moves each weight by the learning rate, later steps add to that; with --ema 0.99999 the
    average stays at the first step's weights, so the shipped model moved no further, and it
    scores the validation loss its history logged (the average was in place for both)."""
    import shutil

    from data_prep import load_split

    val = load_split(prepared[0], "cropped", "val")
    targets, known = TASKS["gender"].labels(val)
    start = keras.models.load_model(ModelFiles(smoke_weights / "cropped", "gender").model)
    largest_change = {}
    for ema in ("0", "0.99999"):
        out = tmp_path / f"ema{ema}"
        shutil.copytree(smoke_weights, out)
        files = ModelFiles(out / "cropped", "gender")
        files.resume.unlink()
        arguments = ["--task", "gender", "--variant", "cropped", "--data", str(prepared[0]),
                     "--out", str(out), "--epochs", "3", "--warmup-epochs", "0",
                     "--learning-rate", "1e-3", "--batch-size", "8", "--stem-width", "8",
                     "--widths", "8", "16", "--resume", "--keep", "last", "--ema", ema]  # fmt: skip
        assert train_main(arguments) == 0
        model = keras.models.load_model(files.model, compile=False)
        largest_change[ema] = max(
            float(np.abs(after - before).max())
            for after, before in zip(model.trainable_weights, start.trainable_weights, strict=True)
        )
        model.compile(loss="binary_crossentropy")
        loss = model.evaluate(val.images[known].astype("float32"), targets[known], verbose=0)
        assert loss == pytest.approx(pd.read_csv(files.history)["val_loss"].iloc[-1], rel=1e-4)
    assert largest_change["0.99999"] < 1.1e-3 < 2e-3 < largest_change["0"]


def test_label_smoothing_moves_the_gender_loss_minimum_off_certainty():
    """With smoothing s the loss of a face labelled 1 is lowest at 1 - s/2, not at 1."""
    probabilities = np.linspace(0.5, 0.999, 500, dtype="float32")
    targets = np.ones_like(probabilities)
    for smoothing, best in ((0.0, 0.999), (0.2, 0.9)):
        model = build_model(TASKS["gender"], TINY, input_size=32)
        compile_model(model, TASKS["gender"], replace(TINY, label_smoothing=smoothing))
        loss = keras.losses.get(model.loss)  # the compiled loss, named or an object
        losses = [
            float(np.mean(loss(targets[i : i + 1, None], probabilities[i : i + 1, None])))
            for i in range(len(probabilities))
        ]
        assert probabilities[int(np.argmin(losses))] == pytest.approx(best, abs=2e-3)
    with pytest.raises(ValueError, match="no label smoothing"):
        TASKS["age"].loss_function(0.1)


def test_a_change_of_label_smoothing_restarts_the_optimizer(
    smoke_weights, prepared, tmp_path, capsys
):
    """The checkpoint's optimizer was compiled with the old loss: continuing with another
    smoothing starts from the model with a fresh optimizer, and the run records it."""
    import shutil

    out = tmp_path / "weights"
    shutil.copytree(smoke_weights, out)
    files = ModelFiles(out / "cropped", "gender")
    assert files.resume.is_file()
    arguments = ["--task", "gender", "--variant", "cropped", "--data", str(prepared[0]),
                 "--out", str(out), "--epochs", "1", "--warmup-epochs", "0", "--batch-size", "8",
                 "--stem-width", "8", "--widths", "8", "16", "--resume",
                 "--label-smoothing", "0.2"]  # fmt: skip
    assert train_main(arguments) == 0
    assert "Continuing from" in capsys.readouterr().out
    assert json.loads(files.run_info.read_text())["config"]["label_smoothing"] == 0.2
    with pytest.raises(SystemExit):
        train_main(["--task", "age", "--variant", "cropped", "--data", str(prepared[0]),
                    "--out", str(out), "--label-smoothing", "0.1"])  # fmt: skip
    with pytest.raises(SystemExit):
        train_main(["--task", "age", "--variant", "cropped", "--data", str(prepared[0]),
                    "--out", str(out), "--relative-to-age", "-1"])  # fmt: skip
