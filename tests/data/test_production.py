"""Production per style: the plan's draws, the mix (pan, reverb, mono downmix), the master's
loudness and peak, BS.1770 loudness against its reference values, and the errors of bad styles."""

import json
import math
import re

import numpy as np
import pytest

from text2music.data.synth.compose import GENRES
from text2music.production import (
    LIMITER_CEILING_DB,
    ROOM_FALLBACK_STYLE,
    STYLES,
    ProductionPlan,
    _k_weighting,
    integrated_loudness,
    load_styles,
    produce,
    production_plan,
    room,
    style_in,
)

SR = 16000
SECONDS = 3.0


def _tone(freq: float, starts: list[float], length: float, n: int, sr: int = SR) -> np.ndarray:
    """Plucked harmonic notes of `freq` starting at `starts` (seconds), each `length` long."""
    t = np.arange(n) / sr
    out = np.zeros(n)
    for start in starts:
        on = (t >= start) & (t < start + length)
        env = np.exp(-(t[on] - start) * 3) * np.minimum(1, (start + length - t[on]) * 200)
        out[on] += env * sum(np.sin(2 * np.pi * freq * k * t[on]) / k for k in (1, 2, 3))
    return (0.2 * out).astype(np.float32)


def _stems(n: int = int(SR * SECONDS)) -> list[tuple[str, np.ndarray]]:
    """One part per role; the drums a stereo kit of noise bursts on the beats."""
    beats = list(np.arange(0, n / SR - 0.3, 0.5))
    rng = np.random.default_rng(0)
    hits = np.zeros((n, 2), np.float32)
    for b in beats:
        i = int(b * SR)
        burst = rng.standard_normal((1200, 2)) * np.exp(-np.arange(1200) / 150)[:, None] * [[0.5, 0.3]]
        hits[i : i + 1200] += burst[: n - i].astype(np.float32)
    return [
        ("lead", _tone(660, beats[::2], 0.9, n)),
        ("accompaniment", _tone(330, beats, 0.45, n)),
        ("bass", _tone(82, beats, 0.45, n)),
        ("pad", _tone(262, [0.0], n / SR - 0.4, n)),
        ("drums", hits),
    ]


def _energy(x: np.ndarray) -> float:
    return float(np.sum(np.square(x, dtype=np.float64)))


def _with(plan: ProductionPlan, **changes: dict) -> ProductionPlan:
    """The plan with some settings changed (effect -> settings; None drops an effect)."""
    d = plan.as_dict()
    for effect, settings in changes.items():
        if settings is None:
            d.pop(effect, None)
        else:
            d[effect] = {**d[effect], **settings}
    return ProductionPlan.from_dict(d)


def test_every_genre_of_compose_has_a_style():
    assert set(GENRES) == set(STYLES)
    assert set(load_styles()) == set(GENRES)


def test_the_same_rng_gives_the_same_bytes():
    stems = _stems()
    a = produce(stems, production_plan("pop", np.random.default_rng(7)), SR)
    b = produce(stems, production_plan("pop", np.random.default_rng(7)), SR)
    assert a.tobytes() == b.tobytes()
    other = production_plan("pop", np.random.default_rng(8))
    assert other != production_plan("pop", np.random.default_rng(7))
    assert produce(stems, other, SR).tobytes() != a.tobytes()


def test_a_plan_round_trips_through_the_manifest_json():
    plan = production_plan("electronic", np.random.default_rng(3))
    back = ProductionPlan.from_dict(json.loads(json.dumps(plan.as_dict())))
    assert back == plan
    assert "delay" in plan.as_dict() and "chorus" in plan.as_dict()
    assert produce(_stems(), back, SR).tobytes() == produce(_stems(), plan, SR).tobytes()


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_masters_to_its_loudness_under_the_ceiling(style):
    plan = production_plan(style, np.random.default_rng(1))
    out = produce(_stems(), plan, SR)
    assert out.shape == (int(SR * SECONDS), 2) and out.dtype == np.float32 and out.flags.c_contiguous
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= 10 ** (LIMITER_CEILING_DB / 20) + 1e-6 < 0.99
    target = plan.settings["master"]["lufs"]
    lo, hi = STYLES[style]["master"]["lufs"] if isinstance(STYLES[style]["master"]["lufs"], list) else (target, target)
    assert lo <= target <= hi
    assert abs(integrated_loudness(out, SR) - target) <= 1.0


def test_loudness_targets_follow_the_style():
    def target(style):
        return production_plan(style, np.random.default_rng(0)).settings["master"]["lufs"]

    assert target("classical") <= -18 and target("ambient") <= -17
    assert -17 <= target("jazz") <= -15 and -17 <= target("folk") <= -15
    assert all(-10.5 <= target(s) <= -8.5 for s in ("pop", "rock", "electronic", "metal"))


def test_a_panned_part_really_moves():
    plan = _with(production_plan("pop", np.random.default_rng(0)), send={"accompaniment": 0.0})  # the pan law alone
    part = [("accompaniment", _tone(330, [0.2, 1.2], 0.8, int(SR * SECONDS)))]
    right = produce(part, _with(plan, pan={"accompaniment": 0.8}), SR)
    left = produce(part, _with(plan, pan={"accompaniment": -0.8}), SR)
    centre = produce(part, _with(plan, pan={"accompaniment": 0.0}), SR)
    assert _energy(right[:, 1]) > 20 * _energy(right[:, 0])  # constant power at 0.8: tan(0.45 pi)^2 = 40
    assert _energy(left[:, 0]) > 20 * _energy(left[:, 1])
    assert _energy(centre[:, 0]) == pytest.approx(_energy(centre[:, 1]), rel=0.01)
    reverb = produce(part, _with(plan, pan={"accompaniment": 0.8}, send={"accompaniment": 0.5}), SR)
    assert _energy(reverb[:, 1]) > 2 * _energy(reverb[:, 0])  # the reverb widens it but leaves it on its side


def test_compressors_and_clipper_keep_the_stereo_image():
    # pedalboard's compressor works on each channel alone; glue, drum-kit compressor and clipper
    # must follow both channels, or a loud master pulls a panned part back towards the centre
    n = int(SR * SECONDS)
    plan = _with(production_plan("metal", np.random.default_rng(0)), send={"accompaniment": 0.0, "drums": 0.0}, pan={"accompaniment": 0.8})
    right = produce([("accompaniment", _tone(330, [0.2, 1.2], 0.8, n))], plan, SR)
    assert _energy(right[:, 1]) > 25 * _energy(right[:, 0])  # 40 before the master
    kit = np.stack([0.2 * _tone(200, [0.1, 1.1, 2.1], 0.3, n), _tone(200, [0.1, 1.1, 2.1], 0.3, n)], axis=1)
    out = produce([("drums", kit)], plan, SR)
    assert _energy(out[:, 1]) > 15 * _energy(out[:, 0])  # 25 as given


def test_a_plan_puts_accompaniment_and_pad_on_opposite_sides_and_the_lead_near_the_centre():
    for seed in range(8):
        pan = production_plan("pop", np.random.default_rng(seed)).settings["pan"]
        assert pan["accompaniment"] * pan["pad"] < 0
        assert abs(pan["lead"]) <= 0.1


def test_a_second_part_of_a_role_goes_to_the_other_side():
    n = int(SR * SECONDS)
    plan = _with(production_plan("jazz", np.random.default_rng(0)), pan={"accompaniment": 0.9}, send={"accompaniment": 0.0})
    one = produce([("accompaniment", _tone(330, [0.2], 2.0, n))], plan, SR)
    two = produce([("accompaniment", _tone(330, [0.2], 2.0, n)), ("accompaniment", _tone(440, [0.2], 2.0, n))], plan, SR)
    assert _energy(one[:, 1]) > 10 * _energy(one[:, 0])
    assert 0.5 < _energy(two[:, 0]) / _energy(two[:, 1]) < 2.0


def test_reverb_leaves_a_tail_after_the_last_note():
    n = int(SR * SECONDS)
    part = [("lead", _tone(440, [0.3], 0.7, n))]  # the note ends at 1.0 s
    plan = production_plan("classical", np.random.default_rng(0))
    wet = produce(part, plan, SR)
    dry = produce(part, _with(plan, reverb={"wet": 0.0}), SR)
    note, tail = slice(int(0.5 * SR), int(1.0 * SR)), slice(int(1.1 * SR), int(1.6 * SR))
    assert _energy(wet[tail]) > 1e-3 * _energy(wet[note])
    assert _energy(dry[tail]) < 1e-6 * _energy(dry[note])


def test_a_delay_repeats_the_part():
    n = int(SR * SECONDS)
    part = [("lead", _tone(440, [0.3], 0.2, n))]
    plan = _with(
        production_plan("electronic", np.random.default_rng(0)), reverb={"wet": 0.0}, delay={"seconds": 0.5, "feedback": 0.0, "mix": 0.5}
    )
    out = produce(part, plan, SR)
    echo, after = slice(int(0.8 * SR), int(1.0 * SR)), slice(int(1.05 * SR), int(1.3 * SR))
    assert _energy(out[echo]) > 0.05 * _energy(out[int(0.3 * SR) : int(0.5 * SR)])
    assert _energy(out[after]) < 1e-3 * _energy(out[echo])


def test_the_room_of_a_text_is_that_of_the_first_genre_it_names():
    assert style_in("Fantasy game soundtrack: a classical jazz tune played on flute") == "classical"
    assert style_in("HIP HOP beat with a jazz sample") == style_in("a hip-hop beat") == "hip hop"
    assert style_in("a calm solo piano piece") == style_in("") == ROOM_FALLBACK_STYLE
    assert style_in("a rocking chair lullaby") == ROOM_FALLBACK_STYLE  # whole words only


def test_a_room_adds_a_stereo_tail_drawn_from_the_seed_and_wraps_it_round_a_loop():
    n = int(SR * SECONDS)
    note = _tone(440, [0.2], 0.6, n)  # ends at 0.8 s
    hall, again, other = (room(note, "classical", seed, SR) for seed in (0, 0, 1))
    assert hall.shape == (2, n) and np.array_equal(hall, again) and not np.array_equal(hall, other)
    tail = slice(int(0.9 * SR), int(1.4 * SR))
    assert _energy(hall[:, tail]) > 1e-3 * _energy(note) and _energy(note[tail]) == 0
    assert _energy(hall[0, tail] - hall[1, tail]) > 0.1 * _energy(hall[:, tail])  # its two sides differ: a stereo room
    assert _energy(room(note, "hip hop", 0, SR)[:, tail]) < _energy(hall[:, tail])  # a small room rings less than a hall
    late = _tone(440, [SECONDS - 0.5], 0.45, n)  # a note at the loop's end rings on into its start
    head = slice(0, int(0.3 * SR))
    assert _energy(room(late, "classical", 0, SR, loop=True)[:, head]) > 1e-3 * _energy(late)
    assert _energy(room(late, "classical", 0, SR)[:, head]) == 0
    with pytest.raises(ValueError, match="mono clip"):
        room(np.zeros((n, 2), np.float32), "classical", 0, SR)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_the_mono_downmix_keeps_most_of_the_energy(style):
    out = produce(_stems(), production_plan(style, np.random.default_rng(2)), SR).astype(np.float64)
    mono = _energy((out[:, 0] + out[:, 1]) / 2)
    stereo = (_energy(out[:, 0]) + _energy(out[:, 1])) / 2
    assert mono > 0.6 * stereo  # uncorrelated channels keep 0.5, cancelling ones less
    assert _energy(out[:, 0] - out[:, 1]) > 0.01 * stereo  # and it is stereo


def test_silent_stems_give_silence():
    n = int(SR * SECONDS)
    out = produce(
        [("lead", np.zeros(n, np.float32)), ("drums", np.zeros((n, 2), np.float32))], production_plan("rock", np.random.default_rng(0)), SR
    )
    assert out.shape == (n, 2) and not out.any()


def test_draws_do_not_depend_on_other_ranges(tmp_path):
    path = tmp_path / "styles.json"
    path.write_text(json.dumps({"jazz": {"reverb": {"wet": [0.5, 0.6]}}, "electronic": {"delay": None}}))
    styles = load_styles(path)
    jazz = production_plan("jazz", np.random.default_rng(4), styles).as_dict()
    default = production_plan("jazz", np.random.default_rng(4)).as_dict()
    assert 0.5 <= jazz["reverb"]["wet"] <= 0.6
    assert {k: v for k, v in jazz["reverb"].items() if k != "wet"} == {k: v for k, v in default["reverb"].items() if k != "wet"}
    assert {k: v for k, v in jazz.items() if k != "reverb"} == {k: v for k, v in default.items() if k != "reverb"}
    electronic = production_plan("electronic", np.random.default_rng(4), styles).as_dict()
    assert "delay" not in electronic
    assert electronic["master"] == production_plan("electronic", np.random.default_rng(4)).as_dict()["master"]


# ---------------------------------------------------------------------------------------------
# Loudness: ITU-R BS.1770 and EBU Tech 3341's reference signals


def test_k_weighting_has_the_standard_coefficients_at_48k():
    sos = _k_weighting(48000)
    np.testing.assert_allclose(
        sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285, 1, -1.69065929318241, 0.73248077421585], atol=1e-9
    )
    np.testing.assert_allclose(sos[1], [1, -2, 1, 1, -1.99004745483398, 0.99007225036621], atol=1e-9)


def _sine(dbfs: float, seconds: float, sr: int, freq: float = 1000.0) -> np.ndarray:
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


@pytest.mark.parametrize("sr", [48000, 22050, 16000])
def test_a_stereo_1k_tone_at_minus_23_dbfs_reads_minus_23_lufs(sr):
    tone = _sine(-23, 3.0, sr)
    assert integrated_loudness(np.stack([tone, tone], axis=1), sr) == pytest.approx(-23.0, abs=0.1)
    assert integrated_loudness(tone, sr) == pytest.approx(-26.0, abs=0.1)  # one channel: half the power


def test_the_absolute_gate_leaves_out_silence():
    tone = _sine(-23, 20.0, SR)
    with_silence = np.concatenate([tone, np.zeros(20 * SR, np.float32)])
    assert integrated_loudness(np.stack([with_silence] * 2, axis=1), SR) == pytest.approx(-23.0, abs=0.1)


def test_the_absolute_gate_leaves_out_blocks_under_minus_70_lufs():
    # without it the relative gate, 10 LU under the mean of every block, would keep the -75 dBFS blocks
    signal = np.concatenate([_sine(-60, 4, SR), _sine(-75, 40, SR)])
    assert integrated_loudness(np.stack([signal] * 2, axis=1), SR) == pytest.approx(-60.0, abs=0.2)


def test_the_relative_gate_leaves_out_quiet_passages():
    # EBU Tech 3341 case 3: -36, -23 and -36 dBFS for 10, 60 and 10 s read -23 LUFS
    signal = np.concatenate([_sine(-36, 10, SR), _sine(-23, 60, SR), _sine(-36, 10, SR)])
    assert integrated_loudness(np.stack([signal] * 2, axis=1), SR) == pytest.approx(-23.0, abs=0.1)
    # EBU Tech 3341 case 4: -72, -36, -23, -36, -72 dBFS for 10, 10, 60, 10 and 10 s read -23 LUFS
    signal = np.concatenate([_sine(-72, 10, SR), _sine(-36, 10, SR), _sine(-23, 60, SR), _sine(-36, 10, SR), _sine(-72, 10, SR)])
    assert integrated_loudness(np.stack([signal] * 2, axis=1), SR) == pytest.approx(-23.0, abs=0.1)


def test_silence_has_no_loudness():
    assert integrated_loudness(np.zeros((SR, 2), np.float32), SR) == -math.inf


# ---------------------------------------------------------------------------------------------
# Bad styles, plans and stems: one line naming the style and the setting


def _load_error(tmp_path, overrides) -> str:
    path = tmp_path / "styles.json"
    path.write_text(json.dumps(overrides))
    with pytest.raises(ValueError) as e:
        load_styles(path)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_bad_style_files_name_the_style_and_the_setting(tmp_path):
    assert "production style 'jazz': unknown effect setting 'reverb.sizee'" in _load_error(tmp_path, {"jazz": {"reverb": {"sizee": 0.5}}})
    assert "production style 'jazz': unknown effect 'reverbb'" in _load_error(tmp_path, {"jazz": {"reverbb": {"wet": 0.5}}})
    assert "production style 'jaz' is unknown" in _load_error(tmp_path, {"jaz": {}})
    assert "production style 'jazz': 'reverb.room_size' = 1.5 is outside [0, 1]" in _load_error(
        tmp_path, {"jazz": {"reverb": {"room_size": [0.5, 1.5]}}}
    )
    assert "'reverb.wet' range [0.4, 0.2] has low above high" in _load_error(tmp_path, {"jazz": {"reverb": {"wet": [0.4, 0.2]}}})
    assert "'reverb.wet' must be a number or [low, high]" in _load_error(tmp_path, {"jazz": {"reverb": {"wet": "lots"}}})
    assert "'chorus.roles' has unknown role 'vocals'" in _load_error(tmp_path, {"pop": {"chorus": {"roles": ["vocals"]}}})
    assert "production style 'jazz': missing effect setting 'delay.feedback'" in _load_error(
        tmp_path, {"jazz": {"delay": {"seconds": 0.3}}}
    )
    assert "production style 'jazz': effect 'reverb' must be a JSON object" in _load_error(tmp_path, {"jazz": {"reverb": None}})


def test_an_unreadable_style_file_is_named(tmp_path):
    path = tmp_path / "styles.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(f"production styles file {str(path)!r}")):
        load_styles(path)
    with pytest.raises(ValueError, match="production styles file"):
        load_styles(tmp_path / "missing.json")


def test_an_unknown_style_is_refused():
    with pytest.raises(ValueError, match=re.escape("production style 'polka' is unknown; styles: ambient, blues")):
        production_plan("polka", np.random.default_rng(0))


def test_bad_plans_name_the_setting():
    d = production_plan("jazz", np.random.default_rng(0)).as_dict()
    with pytest.raises(ValueError, match=re.escape("production style 'jazz': unknown effect setting 'reverb.sizee'")):
        ProductionPlan.from_dict({**d, "reverb": {**d["reverb"], "sizee": 0.5}})
    with pytest.raises(ValueError, match=re.escape("production style 'jazz': 'reverb.wet' must be a number, got [0.1, 0.2]")):
        ProductionPlan.from_dict({**d, "reverb": {**d["reverb"], "wet": [0.1, 0.2]}})
    with pytest.raises(ValueError, match=re.escape("production style 'jazz': missing effect 'master'")):
        ProductionPlan.from_dict({k: v for k, v in d.items() if k != "master"})
    with pytest.raises(ValueError, match=re.escape("production style 'jaz' is unknown")):
        ProductionPlan.from_dict({**d, "style": "jaz"})


def test_bad_stems_are_refused_before_any_work():
    n = SR
    plan = production_plan("pop", np.random.default_rng(0))
    cases = [
        ([("vocals", np.zeros(n, np.float32))], "produce: stem 0 has unknown role 'vocals'"),
        (
            [("lead", np.zeros(n, np.float32)), ("bass", np.zeros(n + 1, np.float32))],
            "produce: stem 1 (bass) has 16001 samples, stem 0 has 16000",
        ),
        ([("drums", np.zeros((n, 3), np.float32))], "produce: stem 0 (drums) must be mono (n,) or stereo (n, 2)"),
        ([("lead", np.full(n, np.nan, np.float32))], "produce: stem 0 (lead) holds NaN or infinite samples"),
        ([("lead", np.zeros(10, np.float32))], "produce: the stems hold 10 samples"),
        ([], "produce: no stems to mix"),
    ]
    for stems, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            produce(stems, plan, SR)
