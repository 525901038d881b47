"""Which tracked objects a text prompt names: pure logic, no models.

The `select` stage scores crops of every track against every phrase of the prompt (CLIP cosine
similarity) and hands the numbers to this module, which

1. splits the prompt into phrases (`;` separates phrases; without `;`, the word `and` does); a
   phrase written `all: person` asks for every instance, not the best match (`parse_prompt`),
2. aggregates each track's per-crop scores into one score per phrase (so the choice is made once
   for the whole video, not frame by frame),
3. assigns tracks to phrases greedily by score: at most `top_k` tracks per phrase, each track to at
   most one phrase, only scores ≥ `threshold`; then every-instance phrases keep every remaining
   track of their detector class (the phrase names a class of the detector, e.g. YOLO's `person`,
   or is a Grounding DINO phrase), else every remaining track scoring ≥ `threshold`,
4. optionally links fragments: a chosen object that the tracker lost and re-found under a new id
   (no temporal overlap, close in space at the hand-over, similar score) is added to its phrase,
5. names the outcome (`selected`, `partial`, `no_match`) and applies the no-match policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vanish.errors import VanishError

OUTCOMES = ("selected", "partial", "no_match")
POLICIES = ("passthrough", "fail")
AGGREGATES = ("mean", "median", "max")

_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'"
EVERY_INSTANCE = re.compile(r"^\s*all\s*:", re.IGNORECASE)  # `all: person` = every person
_MARKER_INSIDE = re.compile(r"\ball\s*:", re.IGNORECASE)
# plural phrases of an every-instance prompt that name a (COCO) detector class irregularly
IRREGULAR_PLURALS = {"people": "person", "persons": "person", "mice": "mouse", "knives": "knife"}


class PromptNoMatchError(VanishError):
    """The prompt matched no object and the policy says the sample must fail."""


class PromptSyntaxError(ValueError):
    """A prompt the parser cannot read (e.g. `all:` naming nothing); the message says the fix."""


@dataclass(frozen=True)
class Prompt:
    """A parsed prompt: its phrases (without the `all:` marker) and, per phrase, whether it asks
    for every instance. Detectors read `phrases`; selection reads `every` too."""

    text: str
    phrases: tuple[str, ...]
    every: tuple[bool, ...]  # per phrase: `all:` given, keep every instance

    @property
    def every_instance(self) -> bool:
        """Whether any phrase asks for every instance (`all: person`)."""
        return any(self.every)


def parse_prompt(prompt: str) -> Prompt:
    """Phrases of a prompt and their every-instance flags; raise `PromptSyntaxError` if malformed.

    Phrases are `;`-separated if the prompt has a `;`, else split on the word `and`:
    `"a dog and a red car"` → `a dog`, `a red car`; `"the black and white cat; a bike"` → `the
    black and white cat`, `a bike` (use `;` when a phrase itself contains "and"). A phrase
    starting with `all:` (any case) asks for every instance: `"all: person; the red car"` keeps
    every person and the best-matching red car. Surrounding punctuation and blanks are stripped,
    empty phrases dropped.
    """
    parts = prompt.split(";") if ";" in prompt else _AND.split(prompt)
    phrases, every = [], []
    for part in parts:
        marker = EVERY_INSTANCE.match(part)
        phrase = " ".join(part[marker.end() if marker else 0 :].strip(_EDGE_PUNCTUATION).split())
        if _MARKER_INSIDE.search(phrase):
            raise PromptSyntaxError(
                f"the phrase '{part.strip()}' has 'all:' inside it. Fix: put 'all:' once, at the "
                "start of a phrase, and separate phrases with ';' (e.g. 'all: person; a red car')"
            )
        if marker and not phrase:
            raise PromptSyntaxError(
                f"'{part.strip()}' asks for every instance of nothing. Fix: name the object "
                "after 'all:' (e.g. 'all: person')"
            )
        if phrase:
            phrases.append(phrase)
            every.append(bool(marker))
    return Prompt(prompt, tuple(phrases), tuple(every))


def split_prompt(prompt: str) -> list[str]:
    """The phrases of a prompt, without `all:` markers (`parse_prompt`): what detectors search."""
    return list(parse_prompt(prompt).phrases)


def names_class(phrase: str, label: str) -> bool:
    """Whether an every-instance phrase names the detector class `label`: equal ignoring case
    and spacing, or its plural (`persons`, `people`, `cars`, `buses`)."""
    phrase, label = " ".join(phrase.lower().split()), " ".join(label.lower().split())
    if not label:
        return False
    singular = IRREGULAR_PLURALS.get(phrase, phrase)
    return label in (singular, phrase.removesuffix("s"), phrase.removesuffix("es"))


def evenly_spaced(items: Sequence, count: int) -> list:
    """At most `count` items spread evenly over the sequence (first and last included)."""
    if count <= 0 or not items:
        return []
    if len(items) <= count:
        return list(items)
    positions = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(positions.tolist()))]


def aggregate(similarities: np.ndarray, method: str = "mean") -> np.ndarray:
    """One score per phrase from a track's `(crops, phrases)` similarity matrix."""
    similarities = np.asarray(similarities, np.float64)
    if similarities.ndim != 2 or similarities.shape[0] == 0:
        raise ValueError(f"need a non-empty (crops, phrases) matrix, got {similarities.shape}")
    if method == "mean":
        return similarities.mean(axis=0)
    if method == "median":
        return np.median(similarities, axis=0)
    if method == "max":
        return similarities.max(axis=0)
    raise ValueError(f"aggregate must be one of {AGGREGATES}, got {method!r}")


@dataclass
class TrackInfo:
    """What selection needs to know about one track besides its scores."""

    track: int
    frames: np.ndarray  # sorted frame indices where the tracker reported the object
    first_box: np.ndarray  # box at frames[0]
    last_box: np.ndarray  # box at frames[-1]
    label: str = ""  # detector class name
    confidence: float = 0.0  # mean detector confidence

    @property
    def first(self) -> int:
        return int(self.frames[0])

    @property
    def last(self) -> int:
        return int(self.frames[-1])


@dataclass
class Selection:
    """The chosen tracks per phrase and the outcome of a prompt."""

    phrases: list[str]
    chosen: dict[int, list[int]]  # phrase index -> track ids (best first, then linked fragments)
    scores: dict[int, np.ndarray]  # track id -> aggregated score per phrase
    threshold: float
    top_k: int
    reason: str = ""
    linked: dict[int, list[int]] = field(default_factory=dict)  # phrase -> fragment track ids
    every: list[bool] = field(default_factory=list)  # per phrase: every instance (`all:`)
    why: dict[int, str] = field(default_factory=dict)  # track id -> why it was kept or not

    @property
    def tracks(self) -> list[int]:
        """Every selected track id, sorted."""
        return sorted({t for tracks in self.chosen.values() for t in tracks})

    @property
    def unmatched(self) -> list[str]:
        """Phrases that no track matched."""
        return [p for i, p in enumerate(self.phrases) if not self.chosen.get(i)]

    @property
    def outcome(self) -> str:
        """`selected` (every phrase matched), `partial` (some did) or `no_match` (none did)."""
        matched = sum(1 for i in range(len(self.phrases)) if self.chosen.get(i))
        if matched == 0:
            return "no_match"
        return "selected" if matched == len(self.phrases) else "partial"


def choose_tracks(
    phrases: Sequence[str],
    scores: Mapping[int, np.ndarray],
    threshold: float,
    top_k: int = 1,
    among: Sequence[int] | None = None,
) -> dict[int, list[int]]:
    """Greedy assignment: the highest (track, phrase) scores first, each track used once.

    A phrase takes at most `top_k` tracks, only with scores ≥ `threshold`. Ties break by phrase
    order, then by smaller track id, so the result is deterministic. `among`: the phrase indices
    taking part (default all; the others get no track).
    """
    among = range(len(phrases)) if among is None else among
    pairs = [
        (float(score[p]), p, track)
        for track, score in scores.items()
        for p in among
        if float(score[p]) >= threshold
    ]
    pairs.sort(key=lambda item: (-item[0], item[1], item[2]))
    chosen: dict[int, list[int]] = {p: [] for p in range(len(phrases))}
    used: set[int] = set()
    for _, phrase, track in pairs:
        if track in used or len(chosen[phrase]) >= top_k:
            continue
        chosen[phrase].append(track)
        used.add(track)
    return chosen


def _center(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _diagonal(box: np.ndarray) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def _continues(a: TrackInfo, b: TrackInfo, max_gap: int, distance: float) -> bool:
    """True if `b` starts after `a` ends (or the reverse) nearby in time and space."""
    if a.last < b.first:
        before, after = a, b
    elif b.last < a.first:
        before, after = b, a
    else:
        return False  # overlapping in time: two different objects
    if after.first - before.last > max_gap:
        return False
    gap = np.linalg.norm(_center(before.last_box) - _center(after.first_box))
    scale = max(_diagonal(before.last_box), _diagonal(after.first_box), 1.0)
    return bool(gap <= distance * scale)


def link_fragments(
    chosen: dict[int, list[int]],
    scores: Mapping[int, np.ndarray],
    info: Mapping[int, TrackInfo],
    threshold: float,
    margin: float = 0.03,
    max_gap: int = 30,
    distance: float = 1.0,
) -> dict[int, list[int]]:
    """Tracks to add to each phrase as fragments of an already chosen object.

    A free track joins a phrase when it scores ≥ `threshold` and ≥ (the phrase's best score −
    `margin`), does not overlap any of the phrase's tracks in time, and starts (or ends) within
    `max_gap` frames and `distance` box diagonals of one of them. Repeats until nothing joins.
    """
    used = {t for tracks in chosen.values() for t in tracks}
    linked: dict[int, list[int]] = {p: [] for p in chosen}
    for phrase, tracks in chosen.items():
        if not tracks:
            continue
        floor = max(threshold, float(scores[tracks[0]][phrase]) - margin)
        members = list(tracks)
        grew = True
        while grew:
            grew = False
            candidates = sorted(
                (t for t in scores if t not in used and float(scores[t][phrase]) >= floor),
                key=lambda t: (-float(scores[t][phrase]), t),
            )
            for track in candidates:
                new = info[track]
                overlaps = any(
                    not (new.last < info[m].first or info[m].last < new.first) for m in members
                )
                if overlaps:
                    continue
                if any(_continues(info[m], new, max_gap, distance) for m in members):
                    members.append(track)
                    linked[phrase].append(track)
                    used.add(track)
                    grew = True
                    break
    return linked


def every_instance(
    phrase: int,
    text: str,
    scores: Mapping[int, np.ndarray],
    info: Mapping[int, TrackInfo],
    threshold: float,
    used: set[int],
) -> tuple[list[int], dict[int, str]]:
    """The tracks an every-instance phrase keeps, and why each scored track is kept or not.

    If the phrase names the detector class of some track (`names_class`: YOLO's
    `person` for `all: people`, or the Grounding DINO phrase itself), it keeps every track of
    that class: the detector's class is the evidence, the CLIP score is only recorded. Otherwise
    it keeps every track scoring ≥ `threshold` for it. Tracks in `used` (chosen by an ordinary
    phrase) stay with that phrase.
    """
    # the class rule applies when any track (scored or too short to score) has the class, so a
    # clip whose persons are all short tracks keeps no dog for `all: person`
    labels = {t: item.label for t, item in info.items()}
    by_class = sorted(t for t, label in labels.items() if names_class(text, label))
    kept, why = [], {}
    for track in sorted(scores):
        score = float(scores[track][phrase])
        if by_class:
            keep = track in by_class
            label = labels.get(track, "")
            reason = f"detector class '{label}'" + (
                f" named by 'all: {text}'" if keep else f", not '{text}'"
            )
        else:
            keep = score >= threshold
            sign = "≥" if keep else "<"
            reason = f"score {score:.3f} {sign} threshold {threshold:g} for 'all: {text}'"
        if keep and track in used:
            continue
        if keep:
            kept.append(track)
        why[track] = ("kept: " if keep else "not kept: ") + reason
    return kept, why


def _why_chosen(chosen: Mapping[int, list[int]], linked: Mapping[int, list[int]], phrases) -> dict:
    """Why each track of an ordinary phrase was kept: best score or a linked fragment."""
    why = {}
    for phrase, tracks in chosen.items():
        for track in tracks:
            how = "linked fragment of" if track in linked.get(phrase, []) else "best score for"
            why[track] = f"kept: {how} '{phrases[phrase]}'"
    return why


def select(
    phrases: Sequence[str],
    scores: Mapping[int, np.ndarray],
    info: Mapping[int, TrackInfo] | None = None,
    threshold: float = 0.2,
    top_k: int = 1,
    link: bool = True,
    link_margin: float = 0.03,
    link_max_gap: int = 30,
    link_distance: float = 1.0,
    every: Sequence[bool] | None = None,
) -> Selection:
    """Choose tracks for every phrase (see the module doc); `info` is needed for linking and
    for every-instance phrases' classes. `every`: per phrase, keep every instance (`all:`).

    Ordinary phrases choose first (best `top_k`, linked fragments), so `all: person; the man in
    red` still gives the second phrase its best track; every-instance phrases then keep the rest.
    """
    if not phrases:
        raise ValueError("the prompt has no phrase")
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    every = list(every) if every is not None else [False] * len(phrases)
    ordinary = [p for p in range(len(phrases)) if not every[p]]
    chosen = choose_tracks(phrases, scores, threshold, top_k, among=ordinary)
    linked: dict[int, list[int]] = {}
    if link and info is not None:
        subset = {p: chosen[p] for p in ordinary}
        linked = link_fragments(
            subset, scores, info, threshold, link_margin, link_max_gap, link_distance
        )
        chosen = {p: chosen[p] + linked.get(p, []) for p in chosen}
    why = _why_chosen(chosen, linked, phrases)
    used = {t for tracks in chosen.values() for t in tracks}
    for phrase in (p for p in range(len(phrases)) if every[p]):
        kept, reasons = every_instance(phrase, phrases[phrase], scores, info or {}, threshold, used)
        chosen[phrase] = kept
        used.update(kept)
        why.update({t: r for t, r in reasons.items() if t not in why or t in kept})
    if not scores:
        reason = "the detector found no object in any frame"
    elif not any(chosen.values()):
        best = max(float(np.max(s)) for s in scores.values())
        reason = f"no track scored at or above the threshold {threshold:g} (best {best:.3f})"
        if any(every):
            reason += " or, for an 'all:' phrase naming a detector class, had that class"
    elif any(not chosen[p] for p in chosen):
        reason = "some phrases matched no track above the threshold"
    else:
        reason = ""
    return Selection(
        list(phrases), chosen, dict(scores), threshold, top_k, reason, linked, every, why
    )


def apply_policy(selection: Selection, policy: str, sample: str, prompt: str) -> str:
    """Return the outcome, or raise `PromptNoMatchError` when the policy is `fail`.

    `passthrough`: a prompt that matches nothing leaves the video unchanged (empty masks), and a
    partial match removes what it matched. `fail`: any unmatched phrase fails the sample.
    """
    if policy not in POLICIES:
        raise ValueError(f"no_match policy must be one of {POLICIES}, got {policy!r}")
    outcome = selection.outcome
    if policy == "fail" and outcome != "selected":
        best = {
            phrase: max((float(s[i]) for s in selection.scores.values()), default=None)
            for i, phrase in enumerate(selection.phrases)
        }
        shown = ", ".join(f"'{p}': {'none' if b is None else f'{b:.3f}'}" for p, b in best.items())
        raise PromptNoMatchError(
            f"sample '{sample}': the prompt '{prompt}' matched no object for "
            f"{selection.unmatched} ({selection.reason}; best score per phrase: {shown}). "
            "Fix: reword the prompt, lower prompt.select.threshold, or set "
            "prompt.select.no_match: passthrough to leave such videos unchanged."
        )
    return outcome


def report(selection: Selection, info: Mapping[int, TrackInfo], policy: str) -> dict:
    """The JSON-ready record of a selection: every track's scores, the choice and the outcome."""
    phrase_of = {t: p for p, tracks in selection.chosen.items() for t in tracks}
    tracks = []
    for track in sorted(selection.scores):
        entry = {
            "track": int(track),
            "scores": {
                phrase: round(float(selection.scores[track][i]), 6)
                for i, phrase in enumerate(selection.phrases)
            },
            "selected": track in phrase_of,
            "phrase": selection.phrases[phrase_of[track]] if track in phrase_of else None,
        }
        if track in selection.why:
            entry["why"] = selection.why[track]
        if track in info:
            item = info[track]
            entry.update(
                label=item.label,
                confidence=round(float(item.confidence), 6),
                first_frame=item.first,
                last_frame=item.last,
                detected_frames=int(len(item.frames)),
            )
        tracks.append(entry)
    per_phrase = []
    for i, phrase in enumerate(selection.phrases):
        ranked = sorted(selection.scores, key=lambda t: (-float(selection.scores[t][i]), t))
        per_phrase.append(
            {
                "phrase": phrase,
                "every_instance": bool(selection.every[i]) if selection.every else False,
                "tracks": [int(t) for t in selection.chosen.get(i, [])],
                "linked_fragments": [int(t) for t in selection.linked.get(i, [])],
                "best_track": int(ranked[0]) if ranked else None,
                "best_score": round(float(selection.scores[ranked[0]][i]), 6) if ranked else None,
            }
        )
    return {
        "phrases": list(selection.phrases),
        "outcome": selection.outcome,
        "reason": selection.reason,
        "no_match_policy": policy,
        "passthrough": selection.outcome == "no_match",
        "threshold": selection.threshold,
        "top_k": selection.top_k,
        "selected_tracks": [int(t) for t in selection.tracks],
        "unmatched_phrases": selection.unmatched,
        "per_phrase": per_phrase,
        "tracks": tracks,
    }
