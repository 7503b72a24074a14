"""Cross-view pairing: which of K candidate images shows the place of the query image?

A ``crossview`` sample holds the query in ``images[0]`` and candidate ``i`` in ``images[1 + i]``,
labelled ``choices[i]`` (letters ``A``, ``B``, …); ``answer`` is the true letter; ``gps`` and
``times`` are aligned with ``images``. ``meta["direction"]`` is ``ground_to_aerial`` (default: a
ground photo, aerial candidates) or ``aerial_to_ground`` (the reverse; GeoSynth says
``meta["query_view"] = "aerial"``). The model answers with a letter. Coordinate frames play no part here: ``frame`` is accepted for the task contract and ignored.

Rewards (TRL signature, registered by name; ranges in brackets):

``mcq_accuracy``        1 if the chosen letter is the true one, else 0                     [0, 1]
``distance_credit``     1 if right; a wrong letter earns ``0.5 · exp(-d / s)``, d the
                        great-circle km between the chosen and the true candidate, s the
                        credit scale (solution ``credit_scale_km``, default 1 km)          [0, 1]
``cosine_length``       VLM-R1's cosine length reward (max length 1024 tokens): right
                        answers 1.0 → 0.5, wrong ones -0.5 → 0.0 as the length grows to
                        the maximum — with the progress clamped at 1, where VLM-R1 lets the
                        cosine rise again beyond the maximum                               [-0.5, 1]
``repetition_penalty``  ``-(1 - unique / total)`` over the completion's word 6-grams (any
                        task's rows: it reads only the text)                               [-1, 0]
``time_credit``         1 if right; a wrong letter earns ``0.5 · mean(hour, season)``
                        similarity of the chosen and the true candidate's capture times   [0, 1]

A malformed answer scores each reward's wrong-answer value (0 for the [0, 1] rewards) and the
reason is logged. Rows of another task get ``None`` (TRL skips them).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

import numpy as np

from geor1.data.schema import Sample
from geor1.geo import haversine_km
from geor1.tasks.common import (
    THINK_ANSWER_INSTRUCTION,
    Parsed,
    answer_text,
    completion_text,
    decode_solutions,
    format_reward,
    has_format,
    log_reason,
    register_reward,
    request_sample,
)
from geor1.tasks.rationale import (
    RationaleError,
    buildings,
    centre_street,
    compass,
    presence,
    ratio,
    street_gap,
    streets,
    trees,
    water,
    words,
)

TASK = "crossview"
ORDER = 40
# The public Geo-R1 (VLM-R1) configuration; swap mcq_accuracy for distance_credit to give partial credit.
DEFAULT_REWARDS = ["format", "mcq_accuracy", "cosine_length", "repetition_penalty"]
MAIN_REWARD = "mcq_accuracy"  # the one that says whether an answer is right (the data engine's verifier)
ENGINE_THRESHOLD = 1.0
HEADLINE = ["accuracy"]
FAILURE_RULE = "wrong letter"
ANSWER_FIELD = "choice"
METRIC_NAMES = {"mean_tokens": "mean tokens", "median_wrong_km": "median error of wrong choices (km)"}  # for people (report tables)
NOT_FRACTIONS = {"mean_tokens", "mean_distance_credit"}  # shown as numbers, not percentages

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
COSINE_MAX_LEN = 1024  # tokens; Geo-R1's public config
REPETITION_NGRAM = 6
CREDIT_SCALE_KM = 1.0
MAX_PARTIAL_CREDIT = 0.5  # a wrong answer never earns more than half a right one

_VIEWS = {"ground_to_aerial": ("street-level photo", "satellite images", "shows the place where the photo was taken"),
          "aerial_to_ground": ("satellite image", "street-level photos",
                               "was taken inside the area the satellite image shows")}


def letters(k: int) -> list[str]:
    """The first ``k`` answer letters (``k`` from 1 to 26)."""
    if not 1 <= k <= len(LETTERS):
        raise ValueError(f"k must be between 1 and {len(LETTERS)}, got {k}")
    return list(LETTERS[:k])


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------------------------
# Prompt

def direction(sample: Sample) -> str:
    """``ground_to_aerial`` or ``aerial_to_ground``: ``meta["direction"]``, else GeoSynth's
    ``meta["query_view"]`` (``aerial`` means the reverse), else ground to aerial."""
    if sample.meta.get("direction") in _VIEWS:
        return sample.meta["direction"]
    return "aerial_to_ground" if sample.meta.get("query_view") == "aerial" else "ground_to_aerial"


def difficulty(sample: Sample) -> str | None:
    """``meta["difficulty"]``, else ``hard`` when any of GeoSynth's ``meta["candidate_kind"]`` is
    hard and ``easy`` when all distractors are easy; None when unknown."""
    if sample.meta.get("difficulty"):
        return str(sample.meta["difficulty"])
    kinds = sample.meta.get("candidate_kind") or []
    return ("hard" if "hard" in kinds else "easy") if kinds else None


def build_prompt(sample: Sample, frame: Any = None, *, think: bool = True) -> str:
    """The question — ``sample.query`` when the dataset supplies one, else a default for the
    sample's direction naming the candidates' letters — then how to answer (with ``think``, the
    think/answer template)."""
    k = len(sample.choices)
    query, cands, relation = _VIEWS[direction(sample)]
    question = sample.query.strip() or (
        f"The first image is a {query}. The next {k} images are {cands}, labelled {_join(sample.choices)} in "
        f"that order. Exactly one of them {relation}. Which one?")
    if think:
        return f"{question} {THINK_ANSWER_INSTRUCTION} The answer is the letter only."
    return f"{question} Answer with the letter only."


def build_messages(sample: Sample, frame: Any = None, *, think: bool = True) -> list[dict]:
    """One user turn: the query image, the K candidates in letter order, then the question."""
    content = [{"type": "image"} for _ in sample.images]
    content.append({"type": "text", "text": build_prompt(sample, frame, think=think)})
    return [{"role": "user", "content": content}]


def solution(sample: Sample, frame: Any = None) -> str:
    """JSON for the rewards: the true letter, the letters, and per candidate its GPS and time."""
    k = len(sample.choices)
    gps = sample.gps or [None] * (1 + k)
    times = sample.times or [None] * (1 + k)
    sol = {"task": TASK, "answer": sample.answer, "choices": list(sample.choices), "k": k,
           "query_gps": gps[0], "gps": gps[1:], "query_time": times[0], "times": times[1:]}
    if "credit_scale_km" in sample.meta:
        sol["credit_scale_km"] = float(sample.meta["credit_scale_km"])
    return json.dumps(sol, separators=(",", ":"))


def target_answer(sample: Sample, frame: Any = None) -> str:
    """The gold answer: the true letter."""
    return str(sample.answer)


# ---------------------------------------------------------------------------------------------
# Parsing

_MARKUP = re.compile(r"[*_`#]+")
_BARE = re.compile(r"^[(\[]?\s*([A-Za-z])\s*[)\].:]?$")
# "Answer: (B)", "the answer is C.", "option b", "Choice - D" — a lower-case letter only when
# punctuation or the end follows, so "the answer is a satellite image" is not read as "A".
_KEYWORD = re.compile(r"\b(?i:answer|option|choice|candidate|image|letter)\b\s*(?i:is|:|=|-)?\s*[(\[]?\s*"
                      r"(?:([A-Z])(?![A-Za-z0-9])|([a-z])\s*(?=[)\].,:;!?]|$))", re.MULTILINE)
_LEADING = re.compile(r"^[(\[]?([A-Z])(?:[)\].:]|\s*-)\s")
_STANDALONE = re.compile(r"(?<![A-Za-z0-9'’])([A-Z])(?![A-Za-z0-9'’])")
# "I" before a lower-case word is the pronoun ("I think B", "I am not sure"), even where I is a valid letter;
# not before "and"/"or" ("I or J")
_PRONOUN_I = re.compile(r"(?<![A-Za-z0-9'’])I(?=\s+(?!(?:and|or|nor)\b)[a-z])")


def parse_answer(text: str, choices: list[str] | tuple[str, ...] | int = 4) -> Parsed:
    """The chosen letter from a completion (``Parsed(value="B")``) or ``Parsed(reason=...)``.

    ``choices`` are the valid letters (or their count K, meaning A..K). Reads the last
    ``<answer>`` block (or the whole text) and accepts, in order: a bare letter ("B", "b", "(B)",
    "B)", "B."); a keyword then a letter ("Answer: (B)", "the answer is C"); a leading letter
    ("B) the second image"); else the one capital letter standing alone ("I pick B": an "I" before a
    lower-case word other than "and"/"or" is the pronoun, and any other "I" is too when I is not a valid
    letter). Letters outside
    the choices are rejected.
    """
    valid = letters(choices) if isinstance(choices, int) else [str(c).upper() for c in choices]
    ans = _MARKUP.sub("", answer_text(str(text))).strip()
    if not ans:
        return Parsed(reason="empty answer")
    letter = None
    m = _BARE.match(ans)
    if m:
        letter = m.group(1)
    if letter is None:
        m = _KEYWORD.search(ans)
        if m:
            letter = m.group(1) or m.group(2)
    if letter is None:
        m = _LEADING.match(ans)
        if m:
            letter = m.group(1)
    if letter is None:
        found = sorted(set(_STANDALONE.findall(_PRONOUN_I.sub(" ", ans))))
        in_range = [c for c in found if c in valid]
        if len(in_range) == 1:
            letter = in_range[0]
        elif len(in_range) > 1:
            return Parsed(reason=f"several letters ({', '.join(in_range)}) in the answer")
        elif found:
            letter = found[0]
        else:
            return Parsed(reason=f"no choice letter in the answer {ans[:40]!r}")
    letter = letter.upper()
    if letter not in valid:
        return Parsed(reason=f"letter {letter} is not one of the choices {valid[0]}..{valid[-1]}")
    return Parsed(letter)


# ---------------------------------------------------------------------------------------------
# Reward helpers

def _solutions(solution: list, task: list | None, n: int) -> list[dict | None]:
    """Decoded solution per row; None for rows of another task or without 'answer' and 'choices'."""
    out = []
    for sol in decode_solutions(solution, task, TASK, n):
        if sol is not None and (not isinstance(sol.get("answer"), str) or not isinstance(sol.get("choices"), list)):
            log_reason(TASK, "solution without 'answer' and 'choices'")
            sol = None
        out.append(sol)
    return out


def _choice(reward: str, completion: Any, sol: dict) -> str | None:
    parsed = parse_answer(completion_text(completion), sol.get("choices") or sol.get("k") or 4)
    if not parsed.ok:
        log_reason(reward, parsed.reason)
        return None
    return parsed.value


def _gps(sol: dict, letter: str | None) -> tuple[float, float] | None:
    """The GPS of the candidate labelled ``letter`` (None when unknown)."""
    try:
        g = sol["gps"][sol["choices"].index(letter)]
        return None if g is None else (float(g[0]), float(g[1]))
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def count_tokens(text: str) -> int:
    """Approximate token count when the trainer gives no ``completion_ids``: words and
    punctuation marks (close to a BPE count for English; used only by the length reward)."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _lengths(completions: list, completion_ids: list | None) -> list[int]:
    if completion_ids is not None and len(completion_ids) == len(completions):
        return [len(ids) for ids in completion_ids]
    return [count_tokens(completion_text(c)) for c in completions]


# ---------------------------------------------------------------------------------------------
# Rewards

@register_reward("mcq_accuracy")
def mcq_accuracy_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """1.0 when the answer's letter is the true letter, else 0.0."""
    out = []
    for c, sol in zip(completions, _solutions(solution, task, len(completions))):
        if sol is None:
            out.append(None)
            continue
        choice = _choice("mcq_accuracy", c, sol)
        out.append(1.0 if choice is not None and choice == sol["answer"] else 0.0)
    return out


def distance_credit(distance_km: float, scale_km: float = CREDIT_SCALE_KM,
                    max_partial: float = MAX_PARTIAL_CREDIT) -> float:
    """Partial credit for a wrong candidate ``distance_km`` from the truth: ``max_partial · exp(-d / s)``."""
    return float(max_partial * math.exp(-max(float(distance_km), 0.0) / scale_km))


@register_reward("distance_credit")
def distance_credit_reward(completions: list, solution: list, task: list | None = None,
                           **kwargs) -> list[float | None]:
    """1.0 for the true letter; a wrong letter earns ``0.5 · exp(-d / s)``, d = great-circle km
    between the chosen candidate's GPS and the true candidate's, s = ``credit_scale_km`` (1 km).
    No GPS for either candidate: 0."""
    out = []
    for c, sol in zip(completions, _solutions(solution, task, len(completions))):
        if sol is None:
            out.append(None)
            continue
        choice = _choice("distance_credit", c, sol)
        if choice is None:
            out.append(0.0)
        elif choice == sol["answer"]:
            out.append(1.0)
        else:
            chosen, truth = _gps(sol, choice), _gps(sol, sol["answer"])
            if chosen is None or truth is None:
                log_reason("distance_credit", "no GPS for the chosen or the true candidate")
                out.append(0.0)
            else:
                d = haversine_km(chosen[0], chosen[1], truth[0], truth[1])
                out.append(distance_credit(d, float(sol.get("credit_scale_km", CREDIT_SCALE_KM))))
    return out


def cosine_length(length: int, correct: bool, max_len: int = COSINE_MAX_LEN, *,
                  correct_range: tuple[float, float] = (1.0, 0.5),
                  wrong_range: tuple[float, float] = (-0.5, 0.0)) -> float:
    """VLM-R1's cosine length schedule with the progress clamped to [0, 1].

    ``value(0)`` is the first element of the range, ``value(max_len)`` the second, following
    ``lo + (hi - lo) · (1 + cos(pi · p)) / 2`` with ``p = min(length / max_len, 1)``. Short right
    answers earn most; short wrong answers are punished most. VLM-R1 uses ``p = length / max_len``
    unclamped, so past ``max_len`` the cosine turns back up and a 2048-token answer scores like an
    empty one; here everything from ``max_len`` on scores the end value."""
    at_zero, at_max = correct_range if correct else wrong_range
    p = min(max(length, 0) / max_len, 1.0)
    return float(at_max + (at_zero - at_max) * 0.5 * (1.0 + math.cos(math.pi * p)))


@register_reward("cosine_length")
def cosine_length_reward(completions: list, solution: list, task: list | None = None,
                         completion_ids: list | None = None, **kwargs) -> list[float | None]:
    """Cosine length reward (max 1024 tokens) keyed on the answer being right: [-0.5, 1.0]."""
    out = []
    lengths = _lengths(completions, completion_ids)
    for c, sol, n in zip(completions, _solutions(solution, task, len(completions)), lengths):
        if sol is None:
            out.append(None)
            continue
        choice = _choice("cosine_length", c, sol)
        out.append(cosine_length(n, choice is not None and choice == sol["answer"]))
    return out


def repetition_share(text: str, n: int = REPETITION_NGRAM) -> float:
    """Share of repeated word n-grams, ``1 - unique / total`` (0 when there are fewer than n words)."""
    words = text.lower().split()
    if len(words) < n:
        return 0.0
    grams = list(zip(*(words[i:] for i in range(n))))
    return 1.0 - len(set(grams)) / len(grams)


@register_reward("repetition_penalty")
def repetition_penalty_reward(completions: list, **kwargs) -> list[float]:
    """``-(share of repeated 6-grams)`` of the whole completion: [-1, 0] (open-r1 / VLM-R1, max
    penalty -1). It reads only the text, so it scores every row, whatever its task."""
    return [-repetition_share(completion_text(c)) for c in completions]


def _parse_time(t: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(t).replace("Z", "+00:00")) if t else None
    except ValueError:
        return None


def _hour(t: datetime, lon: float | None) -> float:
    """Hour of day: local solar time when the time has a UTC offset and the longitude is known,
    else the clock time as written."""
    if t.tzinfo is not None and lon is not None:
        u = t.astimezone(timezone.utc)
        return (u.hour + u.minute / 60 + lon / 15.0) % 24.0
    return t.hour + t.minute / 60


def _season(t: datetime, lat: float | None) -> float:
    """Day of year as a fraction of the year, shifted half a year south of the equator (seasons flip)."""
    doy = (t.timetuple().tm_yday - 1) / 365.25
    return (doy + 0.5) % 1.0 if lat is not None and lat < 0 else doy


def time_similarity(t1: datetime, t2: datetime, gps1=None, gps2=None) -> float:
    """Mean of hour-of-day and season similarity, each ``(1 + cos(2 pi Δ / period)) / 2`` in [0, 1]."""
    lat1, lon1 = (gps1 if gps1 is not None else (None, None))
    lat2, lon2 = (gps2 if gps2 is not None else (None, None))
    dh = _hour(t1, lon1) - _hour(t2, lon2)
    ds = _season(t1, lat1) - _season(t2, lat2)
    hour_sim = (1 + math.cos(2 * math.pi * dh / 24)) / 2
    season_sim = (1 + math.cos(2 * math.pi * ds)) / 2
    return float((hour_sim + season_sim) / 2)


@register_reward("time_credit")
def time_credit_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """1.0 for the true letter; a wrong letter earns ``0.5 · time_similarity`` between the chosen
    and the true candidate's capture times (hour of day and season). No times: 0."""
    out = []
    for c, sol in zip(completions, _solutions(solution, task, len(completions))):
        if sol is None:
            out.append(None)
            continue
        choice = _choice("time_credit", c, sol)
        if choice is None:
            out.append(0.0)
            continue
        if choice == sol["answer"]:
            out.append(1.0)
            continue
        times, order = sol.get("times") or [], sol["choices"]
        i, j = order.index(choice), order.index(sol["answer"])
        t1 = _parse_time(times[i]) if i < len(times) else None
        t2 = _parse_time(times[j]) if j < len(times) else None
        if t1 is None or t2 is None:
            log_reason("time_credit", "no capture time for the chosen or the true candidate")
            out.append(0.0)
        else:
            out.append(MAX_PARTIAL_CREDIT * time_similarity(t1, t2, _gps(sol, choice), _gps(sol, sol["answer"])))
    return out


# ---------------------------------------------------------------------------------------------
# Evaluation

def parse(text: str, sample: Sample, frame: Any = None) -> Parsed:
    """The chosen candidate's letter."""
    return parse_answer(text, sample.choices)


def score(sample: Sample, completion: Any, frame: Any = None, *, num_tokens: int | None = None,
          image: Any = None) -> dict:
    """Per-sample record: the chosen letter (or the reason it could not be read), whether it is
    right, the km between the chosen and the true candidate, the completion length in tokens
    (``num_tokens`` when the caller counted them, else :func:`count_tokens`), and every reward."""
    text = completion_text(completion)
    parsed = parse_answer(text, sample.choices)
    sol = solution(sample)
    cols = {"solution": [sol], "task": [TASK]}
    n = count_tokens(text) if num_tokens is None else int(num_tokens)
    rewards = {"format": format_reward([text])[0],
               "mcq_accuracy": mcq_accuracy_reward([text], **cols)[0],
               "distance_credit": distance_credit_reward([text], **cols)[0],
               "cosine_length": cosine_length(n, parsed.ok and parsed.value == sample.answer),
               "repetition_penalty": repetition_penalty_reward([text])[0],
               "time_credit": time_credit_reward([text], **cols)[0]}
    distance = None
    if parsed.ok:
        sol_d = json.loads(sol)
        chosen, truth = _gps(sol_d, parsed.value), _gps(sol_d, sample.answer)
        if chosen is not None and truth is not None:
            distance = float(haversine_km(chosen[0], chosen[1], truth[0], truth[1]))
    return {"id": sample.id, "task": TASK, "choice": parsed.value, "reason": parsed.reason,
            "answer": sample.answer, "correct": parsed.ok and parsed.value == sample.answer,
            "distance_km": distance, "num_tokens": n, "format_ok": has_format(text),
            "difficulty": difficulty(sample), "direction": direction(sample),
            "rewards": rewards}


def aggregate(scores: list[dict]) -> dict[str, float]:
    """Dataset metrics: ``accuracy`` (the paper's cross-view pairing accuracy, a fraction),
    ``parse_rate``, ``format_rate``, ``mean_tokens`` (completion length), ``mean_distance_credit``,
    ``median_wrong_km`` (km between a wrong choice and the truth, where GPS is known), and
    ``accuracy_<difficulty>`` / ``accuracy_<direction>`` per group present."""
    if not scores:
        return {"n": 0.0}
    correct = np.array([s["correct"] for s in scores], dtype=np.float64)
    out = {"n": float(len(scores)),
           "accuracy": float(correct.mean()),
           "parse_rate": float(np.mean([s["choice"] is not None for s in scores])),
           "format_rate": float(np.mean([s["format_ok"] for s in scores])),
           "mean_tokens": float(np.mean([s["num_tokens"] for s in scores])),
           "mean_distance_credit": float(np.mean([s["rewards"]["distance_credit"] for s in scores]))}
    wrong = [s["distance_km"] for s in scores if not s["correct"] and s["distance_km"] is not None]
    if wrong:
        out["median_wrong_km"] = float(np.median(wrong))
    # Per group: "hard" and "hard-fallback" questions both count as hard.
    for key in ("difficulty", "direction"):
        groups: dict[str, list[bool]] = {}
        for s in scores:
            if s.get(key):
                groups.setdefault(str(s[key]).split("-")[0], []).append(s["correct"])
        for g, hits in sorted(groups.items()):
            out[f"accuracy_{g}"] = float(np.mean(hits))
    return out


def per_sample(metric: str):
    return (lambda s: float(bool(s["correct"]))) if metric == "accuracy" else None


def quality(score: dict) -> float:
    return 1.0 if score["correct"] else 0.0


def is_failure(score: dict) -> bool:
    return not score["correct"]


def describe(score: dict) -> str:
    return f"chose {score.get('choice')}, true {score.get('answer')}"


# ---------------------------------------------------------------------------------------------
# Showing and asking

def describe_answer(letter) -> str:
    return f"candidate {letter}"


def draw(sample: Sample, images: list, letter=None, *, truth: bool = True, max_side: int | None = None):
    """The query and the candidates in a row, the true one framed green, a wrong choice red."""
    from geor1.drawing import candidate_strip

    k = max(len(images) - 1, 1)
    wide = images[0].width > 1.5 * images[0].height  # a panorama: across the top, candidates below
    height = min(160, (max_side or 160 * k) // k) if wide else min(max_side or 160, 160)
    return candidate_strip(images, sample.choices, answer=sample.answer if truth else None, chosen=letter,
                           height=height, query_above=wide)


def caption(sample: Sample) -> str:
    """The sample in words, for contact sheets: the answer, and for GeoSynth samples the place and
    each distractor's kind and distance from the truth."""
    m = sample.meta
    where = f" ({m['city']}, {m['country']} · {words(m['biome'])})" if {"city", "country", "biome"} <= set(m) else ""
    others = [f"{c} {kind} {km:,.1f} km" for c, kind, km in zip(sample.choices, m.get("candidate_kind", []),
                                                               m.get("candidate_km", [])) if c != sample.answer]
    return f"answer {sample.answer}{where}" + (f"; {', '.join(others)}" if others else f": {sample.query}")

def request(images: list, query: str = "", paths: list[str] | None = None) -> Sample:
    if len(images) < 2:
        raise ValueError("--task crossview needs --candidates (the images to choose from)")
    return request_sample(TASK, images, paths, query=query, choices=letters(len(images) - 1))


# ---------------------------------------------------------------------------------------------
# The programmatic teacher: what each view shows

# Cues in the order a viewer rules candidates out (coarse to fine): (name, how different, what the
# candidate shows). "How different" is the difference over what is clearly visible: >= 1 is a clear
# difference, 0 none (categorical cues: 0 or infinity).
CROSSVIEW_CUES = (
    ("biome", lambda q, c: math.inf if q["biome"] != c["biome"] else 0.0,
     lambda c: f"{words(c['biome'])} land"),
    ("architecture", lambda q, c: math.inf if q["architecture"] != c["architecture"] else 0.0,
     lambda c: f"{words(c['architecture'])} architecture"),
    ("road layout", lambda q, c: ratio(street_gap(q, c, 90.0), 4.0), streets),
    ("street at the centre", lambda q, c: ratio(street_gap(q, c, 180.0), 4.0), centre_street),
    ("water", lambda q, c: presence(q["water_share"] > 0.02, c["water_share"] > 0.02)
     or ratio(abs(q["water_share"] - c["water_share"]), 0.1), water),
    ("building count", lambda q, c: ratio(abs(q["n_buildings"] - c["n_buildings"]),
                                           max(3.0, 0.3 * max(q["n_buildings"], c["n_buildings"]))),
     lambda c: f"{c['n_buildings']} buildings"),
    ("building heights", lambda q, c: max(ratio(abs(q["mean_height_m"] - c["mean_height_m"]), 3.0),
                                          ratio(abs(q["max_height_m"] - c["max_height_m"]), 6.0)),
     lambda c: f"buildings about {c['mean_height_m']:g} m tall (up to {c['max_height_m']:g} m)"),
    ("density", lambda q, c: ratio(abs(q["urban_density"] - c["urban_density"]), 0.25),
     lambda c: "densely built" if c["urban_density"] >= 0.5 else "loosely built"),
    ("roofs", lambda q, c: ratio(abs(q["pitched_roof_share"] - c["pitched_roof_share"]), 0.35),
     lambda c: f"{round(100 * c['pitched_roof_share'])}% pitched roofs"),
    ("trees", lambda q, c: ratio(abs(q["n_trees"] - c["n_trees"]), max(5.0, 0.3 * max(q["n_trees"], c["n_trees"]))),
     trees),
    ("snow", lambda q, c: math.inf if q["snow"] != c["snow"] else 0.0, lambda c: "snow" if c["snow"] else "no snow"),
)
# Without one clear difference, a candidate is still ruled out by at least two half-clear ones
# adding up to one and a half clear ones ("close, but fewer and lower buildings").
HALF_CLEAR, ON_BALANCE = 0.5, 1.5


def rationale(sample: Sample, frame: Any = None) -> str:
    """The query's road layout, buildings, trees, water and shadows; each candidate compared on
    those cues, wrong ones ruled out by the first cue that clearly differs; the match chosen."""
    try:
        evidence = sample.meta["evidence"]
        q, cands = evidence["query"], evidence["candidates"]
    except (KeyError, TypeError):
        raise RationaleError(f"sample {sample.id!r} has no GeoSynth evidence (meta['evidence'])") from None
    if len(cands) != len(sample.choices):
        raise RationaleError(f"{len(cands)} candidate evidence records for {len(sample.choices)} choices")
    query_view = sample.meta.get("query_view", "ground")
    what = "The panorama" if query_view == "ground" else "The aerial image"
    sun_az, sun_el = q["sun_azimuth_deg"], q["sun_elevation_deg"]
    shows = (f"{what} shows {words(q['architecture'])} architecture in {words(q['biome'])} land, "
             f"{streets(q)}, {centre_street(q)}, {buildings(q)}, {trees(q)}, {water(q)}")
    sun = f"The sun is {sun_el:g} degrees high in the {compass(sun_az)}, so shadows point {compass(sun_az + 180)}."
    steps = [shows + (", snow." if q["snow"] else "."), sun]
    matches = []
    for letter, c in zip(sample.choices, cands):
        ratios = [(name, how(q, c), says) for name, how, says in CROSSVIEW_CUES]
        clear = [(name, says) for name, r, says in ratios if r >= 1.0]
        some = [(name, r, says) for name, r, says in ratios if HALF_CLEAR <= r < 1.0]
        if clear:
            name, says = clear[0]
            steps.append(f"{letter}: {says(c)}; the {name} differs, so not {letter}.")
        elif len(some) >= 2 and sum(r for _, r, _ in some) >= ON_BALANCE:
            shown = "; ".join(says(c) for _, _, says in some[:3])
            names = " and ".join(name for name, _, _ in some[:3])
            steps.append(f"{letter}: close, but {shown}; the {names} are a little off, so not {letter}.")
        else:
            matches.append(letter)
            steps.append(f"{letter}: {streets(c)}, {centre_street(c)}, {buildings(c)}, {trees(c)}, "
                         f"{water(c)}: it matches.")
    if matches != [sample.answer]:
        raise RationaleError(f"the evidence matches candidates {matches}, the answer is {sample.answer}")
    steps.append(f"So the answer is {sample.answer}.")
    return " ".join(steps)
