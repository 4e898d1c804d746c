import numpy as np
import pytest

from text2music.evaluate.concepts import JUDGE_TAGS, concepts_from_aspects, concepts_from_spec, concepts_in
from text2music.evaluate.fad import frechet_audio_distance
from text2music.evaluate.prompts import EvalItem, stated_bpm, stated_key
from text2music.evaluate.run import adherence, roc_auc


def test_roc_auc_matches_its_definition():
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert roc_auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    rng = np.random.default_rng(0)
    assert abs(roc_auc(rng.normal(size=2000), rng.normal(size=2000)) - 0.5) < 0.03


def test_frechet_distance_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 8)), rng.normal(size=(4000, 8))
    assert frechet_audio_distance(a, b) < 0.05
    # a mean shift of 2 along one axis adds 4; a doubled scale adds dim * (2 - 1)^2 = 8
    assert frechet_audio_distance(a, b + np.eye(8)[0] * 2) == pytest.approx(4.0, abs=0.2)
    assert frechet_audio_distance(a, 2 * b) == pytest.approx(8.0, abs=0.4)
    with pytest.raises(ValueError):
        frechet_audio_distance(a[:1], b)


def test_concepts_from_text_spec_and_aspects():
    assert concepts_in("electric piano") == {"piano"}
    assert concepts_in("thumb piano") == set()
    assert "drums" not in concepts_in("steel drums")
    assert concepts_in("synth strings") == {"synth"}
    assert concepts_in("distorted guitar") == {"guitar"}
    assert "rock" not in concepts_in("rock organ")
    named, excluded = concepts_from_aspects(["acoustic guitar", "no drums", "hip-hop", "male vocals"])
    assert named == {"guitar", "hip hop"} and "drums" in excluded and not named & excluded
    spec = {
        "genre": "jazz",
        "drums": True,
        "instruments": [
            {"name": "alto saxophone", "role": "lead"},
            {"name": "piano", "role": "accompaniment"},
            {"name": "acoustic bass", "role": "bass"},
        ],
    }
    named, excluded = concepts_from_spec(spec)
    assert named == {"jazz", "drums", "piano"} and named | excluded == set(JUDGE_TAGS)


def test_stated_tempo_and_key():
    assert stated_bpm("The tempo is leisurely (70 BPM).") == 70
    assert stated_bpm("an ambient piece at 62 beats per minute") == 62
    assert stated_bpm("a slow song") is None
    assert stated_key("It is in E minor.") == ("E", "minor")
    assert stated_key("The harmony stays in Bb major") == ("Bb", "major")


def test_adherence_scores_perfect_and_shuffled_judges():
    rng = np.random.default_rng(1)
    items, judged = [], []
    for i in range(40):
        piano = i % 2 == 0
        items.append(
            EvalItem(
                id=str(i),
                text="",
                named={"piano"} if piano else set(),
                excluded=set() if piano else {"piano"},
                bpm=100.0,
                key=("A", "minor"),
                drums=piano,
            )
        )
        judged.append(
            {
                "tags": {"piano": 0.9 if piano else 0.1},
                "tempo": 200.0 if i < 30 else 131.0,
                "key": "A",
                "mode": "minor",
                "drum_activity": 0.3 if piano else 0.0,
            }
        )
    a = adherence(items, judged)
    assert a["tag_auc"]["piano"]["auc"] == 1.0 and a["mean_tag_auc"] == 1.0
    assert a["tempo_acc"] == 0.75 and a["tempo_acc_strict"] == 0.0  # 200 = 2 x 100 counts only octave-tolerant
    assert a["key_acc"] == 1.0 and a["drums_acc"] == 1.0
    for j in judged:
        j["tags"]["piano"] = float(rng.uniform())
    assert abs(adherence(items, judged)["mean_tag_auc"] - 0.5) < 0.25


def test_speckle_separates_clean_lines_from_a_noisy_floor():
    from text2music.evaluate.spectra import speckle

    rng = np.random.default_rng(0)
    clean = np.full((80, 200), -60.0)
    clean[[10, 20, 30, 40]] = -10.0  # four sustained harmonic lines
    noisy = clean + rng.normal(scale=6.0, size=clean.shape)
    assert speckle(clean) < 1.0 < 3.0 < speckle(noisy)


def test_key_acc_counts_only_the_exact_key_and_mode():
    """A minor asked for; judged A minor (exact), C major (relative), A major (parallel), E minor
    (fifth): key_acc 1/4, key_acc_close 2/4 (relative counts there, parallel never)."""
    items = [EvalItem(id=str(i), text="", named=set(), excluded=set(), key=("A", "minor")) for i in range(4)]
    judged = [
        {"tags": {}, "tempo": 0.0, "key": k, "mode": m, "drum_activity": 0.0}
        for k, m in (("A", "minor"), ("C", "major"), ("A", "major"), ("E", "minor"))
    ]
    a = adherence(items, judged)
    assert a["key_n"] == 4 and a["key_acc"] == 0.25 and a["key_acc_close"] == 0.5


def test_reference_metrics_compare_half_a_with_the_other_half():
    """The real-audio row (judged = reference) compares real half A with real half B: two
    different halves, so its FAD is that distance and not 0 (a half against itself)."""
    from text2music.evaluate.folder import clip_name
    from text2music.evaluate.run import reference_metrics

    rng = np.random.default_rng(0)
    items = [EvalItem(id=f"c{i}", text="", named=set(), excluded=set()) for i in range(40)]
    # the odd prompts' real clips sit 2 away along one axis: FAD(half A, half B) is about 4
    reference = {clip_name(it.id, 0): {"embeddings": rng.normal(size=(8, 4)) + 2.0 * (i % 2) * np.eye(4)[0]} for i, it in enumerate(items)}
    m = reference_metrics(items, reference, reference, 0, [], 4)

    def emb(part):
        return np.concatenate([reference[clip_name(it.id, 0)]["embeddings"] for it in part])

    assert m["fad"] == round(frechet_audio_distance(emb(items[0::2]), emb(items[1::2])), 3)
    assert m["fad"] == pytest.approx(4.0, abs=1.0) and m["prompt_spread"] == 1.0 and "diversity" not in m


def test_frechet_distance_checks_the_imaginary_part(monkeypatch):
    from text2music.evaluate import fad

    # not covariances (a negative variance): the root is imaginary even with the eps offset
    with pytest.raises(ValueError, match="imaginary part"):
        fad.frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    # round-off-sized imaginary parts are dropped; a large one on the first root is retried with the offset
    calls = []

    def sqrtm(m):
        calls.append(m.copy())
        root = np.diag(np.sqrt(np.diagonal(m))).astype(complex)
        return root + (0.5j if len(calls) == 1 else 1e-9j) * np.eye(len(m))

    monkeypatch.setattr(fad.linalg, "sqrtm", sqrtm)
    assert fad.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3), eps=0.01) == pytest.approx(-0.06, abs=1e-6)
    assert len(calls) == 2 and calls[1][0, 0] == pytest.approx(1.01**2)
    calls.clear()
    monkeypatch.setattr(fad.linalg, "sqrtm", lambda m: np.diag(np.sqrt(np.diagonal(m))) + 1e-9j)
    assert fad.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), 4 * np.eye(3)) == pytest.approx(3.0)
    # fewer embeddings than dimensions (a singular product): finite and real
    rng = np.random.default_rng(0)
    monkeypatch.undo()
    assert np.isfinite(frechet_audio_distance(rng.normal(size=(6, 50)), rng.normal(size=(6, 50)) + 1))


def test_drum_shares_count_drum_free_and_drum_prompts_by_both_judges():
    """4 drum-free prompts: the noise judge hears drums in one, musicnn's drums tag in two;
    2 drum prompts: both judges hear them in both. Prompts with no drums fact are left out."""
    from text2music.evaluate.run import MUSICNN_DRUMS_THRESHOLD, drum_shares

    lo, hi = MUSICNN_DRUMS_THRESHOLD / 2, min(1.0, MUSICNN_DRUMS_THRESHOLD * 2)
    rows = [(False, 0.0, lo), (False, 0.0, lo), (False, 0.0, hi), (False, 0.3, hi), (True, 0.3, hi), (True, 0.3, hi), (None, 0.3, hi)]
    items = [EvalItem(id=str(i), text="", named=set(), excluded=set(), drums=d) for i, (d, _, _) in enumerate(rows)]
    judged = [{"tags": {"drums": 1 - t}, "drums_tag": t, "drum_activity": a} for _, a, t in rows]
    s = drum_shares(items, judged)
    assert s["drum_free_n"] == 4 and s["drum_free_heard_noise"] == 0.75 and s["drum_free_heard_musicnn"] == 0.5
    assert s["drums_heard_noise"] == 1.0 and s["drums_heard_musicnn"] == 1.0
    old = drum_shares(items, [{"tags": {"drums": t}, "drum_activity": a} for _, a, t in rows])  # judged before drums_tag
    assert old["drum_free_heard_musicnn"] is None and old["drum_free_heard_noise"] == 0.75


def test_drums_verdict_hears_every_clip_at_one_loudness():
    """musicnn's drums tag rises with level; the judgement's drums_tag is the same at any gain."""
    from text2music.evaluate.judges import Judges

    sr, rng = 16000, np.random.default_rng(0)
    t = np.arange(6 * sr) / sr
    clip = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * np.exp(-(t % 0.5) * 4) + 0.01 * rng.normal(size=t.size)
    clip = (clip / np.abs(clip).max()).astype(np.float32)
    judges = Judges()
    quiet, loud = judges(0.03 * clip, sr), judges(0.5 * clip, sr)
    assert abs(quiet.tags["drums"] - loud.tags["drums"]) > 0.1 * loud.tags["drums"], (quiet.tags, loud.tags)
    assert abs(quiet.drums_tag - loud.drums_tag) < 1e-3 * max(loud.drums_tag, 1e-3)
