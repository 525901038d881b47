"""Stage `metrics`: scores against hand-computed values, runtime, aggregation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from synthetic import options, panning_clip, write_clip_folder, write_mask_folder

from vanish import io
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.metrics import (
    aggregate_metrics,
    compute_metrics,
    frame_scores,
    psnr_from_mse,
)


def test_psnr_of_a_known_error():
    truth = np.full((8, 8, 3), 100, np.uint8)
    result = truth.copy()
    result[0, 0, 0] = 110  # one value off by 10: mse = 100 / 192
    scores = frame_scores(result, truth, np.zeros((8, 8), bool), window=7)
    assert scores["psnr"] == pytest.approx(10 * math.log10(255**2 / (100 / 192)))


def test_hole_error_counts_only_hole_pixels():
    truth = np.zeros((8, 8, 3), np.uint8)
    result = truth.copy()
    result[:4] = 20
    hole = np.zeros((8, 8), bool)
    hole[:2] = True
    scores = frame_scores(result, truth, hole, window=7)
    assert (scores["hole_sse"], scores["hole_values"]) == (16 * 3 * 400, 48)


def test_identical_frames_give_the_cap_and_ssim_one():
    truth = panning_clip(1, 80, 80)[0]
    scores = frame_scores(truth, truth, np.zeros((80, 80), bool), window=65)
    assert (scores["psnr"], scores["ssim"]) == (100.0, pytest.approx(1.0))


def test_psnr_from_mse():
    assert psnr_from_mse(255.0**2 / 100) == pytest.approx(20.0)


def test_runtime_reads_snakemake_benchmarks(tmp_path):
    bench = tmp_path / "flows.tsv"
    bench.write_text("s\th:m:s\tmax_rss\n1.5\t0:00:01\t10\n")
    assert io.runtime_from_benchmarks([bench, tmp_path / "missing.tsv"]) == {"flows": 1.5}


def test_metrics_of_an_untouched_clip(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("m", clip_on_disk["video"], tmp / "frames", **options("frames"))
    masks = masks_from_files(
        "m", clip_on_disk["mask_dir"], frames, tmp / "masks", **options("masks_from_files")
    )
    out = compute_metrics(
        "m",
        frames / "proc",
        frames,
        masks,
        tmp / "metrics.json",
        str(clip_on_disk["video"]),
        benchmark_files=[],
        selection="",
        threads=1,
        **options("metrics"),
    )
    metrics = io.read_json(out)
    assert metrics["psnr"] == 100.0 and metrics["hole_psnr"] == 100.0
    assert metrics["telea_hole_psnr"] < 40
    assert len(metrics["per_frame"]) == 6


def test_ground_truth_frame_count_must_match(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("m", clip_on_disk["video"], tmp / "frames", **options("frames"))
    masks = masks_from_files(
        "m", clip_on_disk["mask_dir"], frames, tmp / "masks", **options("masks_from_files")
    )
    short = write_clip_folder(tmp / "short", clip_on_disk["frames"][:4])
    with pytest.raises(Exception, match=r"sample 'm': ground truth has 4 frames, the video 6"):
        compute_metrics(
            "m",
            frames / "proc",
            frames,
            masks,
            tmp / "metrics.json",
            str(short),
            benchmark_files=[],
            selection="",
            threads=1,
            **options("metrics"),
        )


def test_aggregate_has_one_row_per_sample(tmp_path):
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.json"
        io.write_json(
            path,
            {"sample": name, "psnr": 30.0, "per_frame": [], "seconds_per_frame": {"fill": 0.1}},
        )
        paths.append(path)
    table = pd.read_csv(aggregate_metrics(paths, tmp_path / "metrics.csv"))
    assert list(table["sample"]) == ["a", "b"]
    assert list(table.columns[:1]) == ["sample"]
    assert table["seconds_per_frame_fill"].tolist() == [0.1, 0.1]


def test_mask_folder_fixture(tmp_path):
    folder = write_mask_folder(tmp_path / "m", np.ones((2, 4, 4), bool))
    assert io.read_masks(folder).all()


@pytest.mark.parametrize(("size", "window"), [((48, 64), 47), ((120, 160), 65)])
def test_box_ssim_equals_scikit_image(size, window):
    from skimage.metrics import structural_similarity

    from vanish.stages.metrics import box_ssim

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    result = truth.copy()
    result[10:30, 20:40] = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    expected = structural_similarity(truth, result, win_size=window, channel_axis=2, data_range=255)
    assert box_ssim(truth, result, window) == pytest.approx(expected, abs=1e-12)


def test_telea_on_the_hole_box_equals_a_whole_frame_fill():
    import cv2

    from vanish.stages.metrics import telea

    frame = panning_clip(1, 120, 160)[0]
    hole = np.zeros((120, 160), bool)
    hole[30:60, 40:90] = True
    hole[100:110, 5:20] = True  # a second hole near the border widens the box
    whole = cv2.inpaint(frame, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    np.testing.assert_array_equal(telea(frame, hole), whole)


def test_metrics_score_mask_stability_without_ground_truth(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("m", clip_on_disk["video"], tmp / "frames", **options("frames"))
    masks = masks_from_files(
        "m", clip_on_disk["mask_dir"], frames, tmp / "masks", **options("masks_from_files")
    )
    out = compute_metrics(
        "m", frames / "proc", frames, masks, tmp / "metrics.json", "", [], selection="",
        threads=1, **options("metrics"),
    )  # fmt: skip
    metrics = io.read_json(out)
    assert len(metrics["mask_stability_per_frame"]) == 5 and 0 < metrics["mask_stability"] <= 1
