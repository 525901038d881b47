"""Prompt → track selection with controlled embeddings (no model): phrases, aggregation,
assignment, multi-object prompts, the no-match policy and stability over the whole video."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import options

from vanish import io
from vanish.selection import (
    PromptNoMatchError,
    PromptSyntaxError,
    TrackInfo,
    aggregate,
    apply_policy,
    evenly_spaced,
    names_class,
    parse_prompt,
    report,
    select,
    split_prompt,
)
from vanish.stages.select import score_tracks, select_objects

DIM = 16


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def axis(index: int) -> np.ndarray:
    vector = np.zeros(DIM)
    vector[index] = 1.0
    return vector


def crops_near(direction: np.ndarray, count: int, noise: float, seed: int) -> np.ndarray:
    """`count` unit embeddings scattered around `direction`."""
    rng = np.random.default_rng(seed)
    return unit(direction + noise * rng.normal(size=(count, DIM)))


def info(
    track: int, first: int, last: int, box=(10, 10, 30, 30), end_box=None, label="person"
) -> TrackInfo:
    return TrackInfo(
        track,
        np.arange(first, last + 1),
        np.array(box, float),
        np.array(end_box if end_box is not None else box, float),
        label,
        0.9,
    )


@pytest.mark.parametrize(
    ("prompt", "phrases"),
    [
        ("a dog", ["a dog"]),
        ("a dog and a red car", ["a dog", "a red car"]),
        ("Dog AND cat and bike.", ["Dog", "cat", "bike"]),
        ("the black and white cat; a bike", ["the black and white cat", "a bike"]),
        ("  person ;; shadow ; ", ["person", "shadow"]),
        ("", []),
        ("candy", ["candy"]),  # 'and' inside a word does not split
    ],
)
def test_split_prompt(prompt, phrases):
    assert split_prompt(prompt) == phrases


def test_evenly_spaced_covers_the_track():
    assert evenly_spaced(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert evenly_spaced([1, 2], 8) == [1, 2]
    assert evenly_spaced([], 3) == []


def test_aggregate_methods():
    sims = np.array([[0.1, 0.5], [0.3, 0.1], [0.8, 0.0]])
    np.testing.assert_allclose(aggregate(sims, "mean"), [0.4, 0.2])
    np.testing.assert_allclose(aggregate(sims, "median"), [0.3, 0.1])
    np.testing.assert_allclose(aggregate(sims, "max"), [0.8, 0.5])
    with pytest.raises(ValueError):
        aggregate(sims, "mode")


def test_right_track_per_phrase_from_embeddings():
    text = unit(np.stack([axis(0), axis(1)]))  # "dog", "car"
    crops = {
        1: crops_near(axis(1), 8, 0.3, 1),  # the car
        2: crops_near(axis(0), 8, 0.3, 2),  # the dog
        3: crops_near(axis(5), 8, 0.3, 3),  # something else
    }
    scores = score_tracks(crops, text, "mean")
    selection = select(["dog", "car"], scores, threshold=0.5)
    assert selection.chosen == {0: [2], 1: [1]}
    assert selection.outcome == "selected"
    assert selection.tracks == [1, 2]


def test_multi_prompt_gives_each_phrase_its_own_track():
    # Track 7 is the best match of both phrases, but better for "dog": "car" takes the runner-up.
    scores = {7: np.array([0.9, 0.8]), 8: np.array([0.2, 0.6]), 9: np.array([0.1, 0.1])}
    selection = select(["dog", "car"], scores, threshold=0.3)
    assert selection.chosen == {0: [7], 1: [8]}
    # top_k: two tracks for one phrase, still each track used once.
    scores = {1: np.array([0.9]), 2: np.array([0.8]), 3: np.array([0.7])}
    assert select(["person"], scores, threshold=0.3, top_k=2).chosen == {0: [1, 2]}


def test_ties_are_deterministic():
    scores = {5: np.array([0.5]), 3: np.array([0.5])}
    assert select(["dog"], scores, threshold=0.1).chosen == {0: [3]}


def test_no_match_policy_passthrough_and_fail():
    scores = {1: np.array([0.1, 0.05]), 2: np.array([0.12, 0.02])}
    selection = select(["zebra", "giraffe"], scores, threshold=0.25)
    assert selection.outcome == "no_match"
    assert selection.tracks == []
    assert "threshold" in selection.reason
    assert apply_policy(selection, "passthrough", "s1", "zebra and giraffe") == "no_match"
    with pytest.raises(PromptNoMatchError) as error:
        apply_policy(selection, "fail", "s1", "zebra and giraffe")
    message = str(error.value)
    assert "s1" in message and "zebra" in message and "no_match: passthrough" in message
    record = report(selection, {}, "passthrough")
    assert record["outcome"] == "no_match" and record["passthrough"] is True
    assert record["unmatched_phrases"] == ["zebra", "giraffe"]
    assert {t["track"] for t in record["tracks"]} == {1, 2}  # every score is recorded


def test_partial_match_removes_what_matched_unless_policy_fails():
    scores = {1: np.array([0.9, 0.1])}
    selection = select(["dog", "unicorn"], scores, threshold=0.3)
    assert selection.outcome == "partial"
    assert selection.unmatched == ["unicorn"]
    assert apply_policy(selection, "passthrough", "s", "dog and unicorn") == "partial"
    with pytest.raises(PromptNoMatchError):
        apply_policy(selection, "fail", "s", "dog and unicorn")


def test_no_detections_is_a_no_match_with_its_reason():
    selection = select(["dog"], {}, threshold=0.2)
    assert selection.outcome == "no_match"
    assert "no object" in selection.reason


def test_one_track_is_chosen_for_the_whole_video_despite_noisy_frames():
    """Frame by frame the wrong track sometimes wins; aggregated per track, one track wins."""
    text = unit(axis(0)[None])
    frames = 30

    def at(cosine: float, other: int) -> np.ndarray:
        return cosine * axis(0) + np.sqrt(1 - cosine**2) * axis(other)

    # Track 1 is the dog: clearly dog-like, but motion-blurred in every fifth frame.
    dog = np.stack([at(0.3 if f % 5 == 0 else 0.9, 1) for f in range(frames)])
    # Track 2 is a dog-like statue: moderately similar in every frame.
    statue = np.stack([at(0.6, 2) for _ in range(frames)])
    per_frame_winner = np.where((dog @ text.T)[:, 0] > (statue @ text.T)[:, 0], 1, 2)
    assert {1, 2} <= set(per_frame_winner.tolist())  # a per-frame choice would flicker
    scores = score_tracks({1: dog, 2: statue}, text, "mean")
    selection = select(["dog"], scores, threshold=0.2)
    assert selection.tracks == [1]


def test_fragments_of_the_chosen_object_are_linked():
    scores = {
        1: np.array([0.80]),  # the person, frames 0-9
        4: np.array([0.78]),  # re-found after 2 lost frames, where track 1 left off
        5: np.array([0.79]),  # a similar person far away, after track 1 ended
        6: np.array([0.77]),  # overlaps track 1 in time: another object
        7: np.array([0.40]),  # nearby continuation, but a much lower score
    }
    infos = {
        1: info(1, 0, 9, (10, 10, 30, 50), (40, 10, 60, 50)),
        4: info(4, 12, 20, (44, 10, 64, 50)),
        5: info(5, 12, 20, (300, 200, 320, 240)),
        6: info(6, 5, 15, (42, 10, 62, 50)),
        7: info(7, 21, 25, (64, 10, 84, 50)),
    }
    selection = select(["person"], scores, infos, threshold=0.3)
    assert selection.chosen == {0: [1, 4]}
    assert selection.linked == {0: [4]}
    unlinked = select(["person"], scores, infos, threshold=0.3, link=False)
    assert unlinked.chosen == {0: [1]}


def _detections(path, rows):
    table = pd.DataFrame(rows, columns=list(io.DETECTION_COLUMNS)).astype(io.DETECTION_COLUMNS)
    io.write_detections(path, table, {"detector": "yolo"})


def test_select_stage_without_detections_passes_through(tmp_path):
    _detections(tmp_path / "detections.parquet", [])
    out = tmp_path / "selection.json"
    record = select_objects(
        "clip1",
        tmp_path / "frames",  # not read: there is nothing to crop
        tmp_path / "detections.parquet",
        out,
        "a dog and a cat",
        weights_path=None,  # no track to score: the CLIP model is never loaded
        weights_sha256=None,
        **options("select", select_options={"no_match": "passthrough"}),
    )
    saved = io.read_json(out)
    assert saved == record
    assert saved["outcome"] == "no_match" and saved["selected_tracks"] == []
    assert saved["phrases"] == ["a dog", "a cat"] and saved["sample"] == "clip1"
    with pytest.raises(PromptNoMatchError):
        select_objects(
            "clip1",
            tmp_path / "frames",
            tmp_path / "detections.parquet",
            tmp_path / "failed.json",
            "a dog",
            weights_path=None,
            weights_sha256=None,
            **options("select", select_options={"no_match": "fail"}),
        )
    assert not (tmp_path / "failed.json").exists()


def test_short_tracks_are_ignored_and_reported(tmp_path):
    rows = [(0, 3, "person", 0, 0.9, 1, 1, 5, 5), (1, 3, "person", 0, 0.9, 1, 1, 5, 5)]
    _detections(tmp_path / "d.parquet", rows)
    record = select_objects(
        "s",
        tmp_path,
        tmp_path / "d.parquet",
        tmp_path / "sel.json",
        "person",
        weights_path=None,
        weights_sha256=None,
        **options("select", select_options={"min_track_frames": 3}),
    )
    assert record["short_tracks"] == [3]
    assert record["outcome"] == "no_match"


@pytest.mark.parametrize(
    ("prompt", "phrases", "every"),
    [
        ("all: person", ("person",), (True,)),
        ("ALL:person; the red car", ("person", "the red car"), (True, False)),
        ("a dog and all: cats", ("a dog", "cats"), (False, True)),
        ("all people", ("all people",), (False,)),  # no colon: an ordinary phrase
        ("the sign: stop", ("the sign: stop",), (False,)),  # other colons are text
    ],
)
def test_parse_prompt_marks_every_instance_phrases(prompt, phrases, every):
    parsed = parse_prompt(prompt)
    assert (parsed.phrases, parsed.every, parsed.every_instance) == (phrases, every, any(every))


def test_split_prompt_drops_the_marker_for_detectors():
    assert split_prompt("all: person; a red car") == ["person", "a red car"]


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("all:", "every instance of nothing"),
        ("all: ; a dog", "every instance of nothing"),
        ("all: all: person", "has 'all:' inside it"),
        ("a person all: dogs", "has 'all:' inside it"),
    ],
)
def test_malformed_every_instance_prompts_are_refused(prompt, message):
    with pytest.raises(PromptSyntaxError, match=message):
        parse_prompt(prompt)


@pytest.mark.parametrize(
    ("phrase", "label", "names"),
    [("person", "person", True), ("People", "person", True), ("buses", "bus", True),
     ("cars", "car", True), ("red car", "car", False), ("dog", "person", False)],
)  # fmt: skip
def test_names_class(phrase, label, names):
    assert names_class(phrase, label) is names


def test_every_instance_keeps_every_track_of_the_class_whatever_its_score():
    scores = {1: np.array([0.9]), 2: np.array([0.1]), 3: np.array([0.8]), 4: np.array([0.3])}
    infos = {1: info(1, 0, 9), 2: info(2, 0, 9), 3: info(3, 0, 9, label="dog"),
             4: info(4, 0, 9, label="person")}  # fmt: skip
    selection = select(["person"], scores, infos, threshold=0.5, every=[True])
    assert selection.chosen == {0: [1, 2, 4]} and selection.outcome == "selected"
    assert selection.why[2] == "kept: detector class 'person' named by 'all: person'"
    assert selection.why[3] == "not kept: detector class 'dog', not 'person'"


def test_every_instance_without_a_class_keeps_every_track_above_the_threshold():
    scores = {1: np.array([0.31]), 2: np.array([0.25]), 3: np.array([0.4]), 4: np.array([0.2])}
    infos = {t: info(t, 0, 9, label="car") for t in scores}
    selection = select(["red car"], scores, infos, threshold=0.3, top_k=1, every=[True])
    assert selection.chosen == {0: [1, 3]}
    assert selection.why[2] == "not kept: score 0.250 < threshold 0.3 for 'all: red car'"


def test_ordinary_phrases_choose_before_every_instance_phrases():
    # track 5 matches "person" best, but it is also the only man in red: it stays his
    scores = {5: np.array([0.9, 0.6]), 6: np.array([0.7, 0.1]), 7: np.array([0.2, 0.1])}
    infos = {5: info(5, 0, 9), 6: info(6, 0, 9), 7: info(7, 0, 9, label="dog")}
    selection = select(["person", "the man in red"], scores, infos, 0.3, every=[True, False])
    assert selection.chosen == {0: [6], 1: [5]}
    assert report(selection, infos, "passthrough")["selected_tracks"] == [5, 6]


def test_report_says_which_phrases_keep_every_instance_and_why_each_track():
    scores = {1: np.array([0.9]), 2: np.array([0.8])}
    infos = {1: info(1, 0, 9), 2: info(2, 0, 9, label="dog")}
    record = report(select(["person"], scores, infos, every=[True]), infos, "passthrough")
    assert record["per_phrase"][0]["every_instance"] is True
    assert [t["why"] for t in record["tracks"]] == [
        "kept: detector class 'person' named by 'all: person'",
        "not kept: detector class 'dog', not 'person'",
    ]


def test_select_stage_keeps_every_person_with_real_clip_scores(tmp_path):
    """The stage with a tiny random open_clip: its scores are noise, yet `all: person` keeps
    exactly the two person tracks (the class decides) and says so in selection.json."""
    from synthetic import panning_clip

    from vanish.testing.tiny import pinned, write_clip

    frames = tmp_path / "frames"
    io.write_frame_folder(frames / "proc", panning_clip(6, 48, 64))
    rows = [
        (frame, track, label, cls, 0.9, 5 + 8 * track, 5, 20 + 8 * track, 30)
        for frame in range(6)
        for track, label, cls in ((1, "person", 0), (2, "dog", 16), (3, "person", 0))
    ]
    _detections(tmp_path / "d.parquet", rows)
    model, weights = write_clip(tmp_path / "clip")
    record = select_objects(
        "s", frames, tmp_path / "d.parquet", tmp_path / "sel.json", "all: people",
        **{f"weights_{k}": v for k, v in pinned(weights).items()},
        **options("select", clip={"model": model}, select_options={"threshold": 0.99}),
    )  # fmt: skip
    assert record["selected_tracks"] == [1, 3] and record["outcome"] == "selected"
    assert record["per_phrase"][0]["every_instance"] is True
    assert io.read_json(tmp_path / "sel.json")["tracks"][1]["why"].startswith("not kept")


def test_every_instance_of_a_class_seen_only_in_short_tracks_keeps_no_other_class():
    scores = {2: np.array([0.9])}  # track 1, the only person, was too short to score
    infos = {1: info(1, 0, 1), 2: info(2, 0, 9, label="dog")}
    selection = select(["person"], scores, infos, threshold=0.3, every=[True])
    assert selection.chosen == {0: []} and selection.outcome == "no_match"
