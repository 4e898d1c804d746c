"""text2music.text.controls: the tempo, key, mode, meter and drums a prompt states; the parsers
of --key / --meter values; precision on the synthetic corpus's captions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from text2music.text import controls
from text2music.text.controls import StatedControls, key_name, parse_controls, parse_key, parse_meter
from text2music.theory import PITCH_CLASSES

FIELDS = ("bpm", "key", "mode", "meter", "drums")


def stated(text: str) -> dict:
    """The fields parse_controls reads from `text`, None-valued ones left out."""
    found = parse_controls(text)
    return {name: getattr(found, name) for name in FIELDS if getattr(found, name) is not None}


# --- tempo ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, bpm, phrase",
    [
        ("a calm piano piece at 92 BPM", 92.0, "at 92 BPM"),
        ("92 bpm techno", 92.0, "92 bpm"),
        ("house at 124bpm", 124.0, "at 124bpm"),
        ("a 100-bpm groove", 100.0, "100-bpm"),
        ("at 92 beats per minute", 92.0, "at 92 beats per minute"),
        ("a tempo of 92, funky", 92.0, "tempo of 92"),
        ("Tempo: 140", 140.0, "Tempo: 140"),
        ("the tempo is about 76.", 76.0, "tempo is about 76"),
        ("BPM: 128", 128.0, "BPM: 128"),
        ("house track (120 BPM)", 120.0, "120 BPM"),
        ("It moves at around 120 BPM.", 120.0, "at around 120 BPM"),
        ("dub at ~70 bpm", 70.0, "at ~70 bpm"),
        ("92.5 BPM", 92.5, "92.5 BPM"),
        ("92 b.p.m. groove", 92.0, "92 b.p.m."),
        ("the BPM of 92", 92.0, "BPM of 92"),
        ("92 beats a minute", 92.0, "92 beats a minute"),
        ("in 4/4 and 120 BPM", 120.0, "120 BPM"),
        ("a tempo of 92 beats per minute", 92.0, "92 beats per minute"),
    ],
)
def test_tempo_phrases(text, bpm, phrase):
    found = parse_controls(text)
    assert found.bpm == bpm
    assert found.phrases["bpm"] == phrase and phrase in text


@pytest.mark.parametrize(
    "text",
    [
        "a 3 minutes long piece with 4 bars of intro",
        "120 seconds of ambient drones",
        "80s synth pop",
        "tempo of 80s music",
        "a 4 bar loop, 16 beats",
        "between 90 and 100 BPM",  # a range states no single tempo
        "90-100 BPM",
        "somewhere from 90 to 120 bpm",
        "from 90 BPM to 120 BPM",  # two tempi disagree
        "500 BPM speedcore",  # not a plausible tempo
        "12 BPM",
        "tempo 100% faster",
        "at 92",
        "released in 1992",
        "a TR-808 drum machine",
    ],
)
def test_numbers_that_are_not_a_tempo(text):
    assert parse_controls(text).bpm is None


# --- key and mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key",
    [
        ("a calm solo piano piece in A minor at 70 BPM", "A minor"),
        ("It is in F# minor.", "F# minor"),
        ("a ballad in the A minor key", "A minor"),
        ("key of D", "D major"),
        ("in the key of Eb major", "Eb major"),
        ("It is written in the key of Bb minor.", "Bb minor"),
        ("Key: C", "C major"),
        ("Key = Bb minor", "Bb minor"),
        ("KEY OF A MINOR", "A minor"),
        ("E-flat major", "Eb major"),
        ("a nocturne, E flat major", "Eb major"),
        ("(F# minor)", "F# minor"),
        ("(A minor, 92 BPM)", "A minor"),
        ("in F sharp minor", "F# minor"),
        ("in Gb major", "F# major"),
        ("in A# minor", "Bb minor"),
        ("in B-flat major", "Bb major"),
        ("in e minor", "E minor"),
        ("in the key of a minor", "A minor"),
        ("the C major scale", "C major"),
        ("in D♭ major", "C# major"),
        ("The key of D. It is a minor key piece.", "D minor"),  # a bare tonic takes the mode stated elsewhere
        ("Mood-wise it is dark, in Ab minor.", "Ab minor"),
    ],
)
def test_key_phrases(text, key):
    found = parse_controls(text)
    assert found.key == key
    assert found.mode == key.split()[1]
    assert found.phrases["key"] in text


@pytest.mark.parametrize(
    "text",
    [
        "a minor change in the bridge",
        "a major hit from 1985",
        "A major label released it",
        "A major hit.",
        "with a minor seventh on top",
        "in A minor chord shapes",
        "the key of a song is its tonic",
        "key of Dreams",
        "the key to success",
        "Plan B",
        "a flat major-key sound",
        "C major, modulates to A minor in the second half",  # two keys disagree
        "in a major way",
        "A minor key ballad",  # the article, not the tonic
        "SAD SONG IN A MINOR KEY",  # all capitals: the article
    ],
)
def test_not_a_key(text):
    assert parse_controls(text).key is None


@pytest.mark.parametrize(
    "text, mode",
    [
        ("The song is in a minor key.", "minor"),
        ("minor key", "minor"),
        ("upbeat, major-key pop", "major"),
        ("A minor key ballad", "minor"),
        ("a sad tune in minor.", "minor"),
        ("minor mode", "minor"),
        ("major tonality", "major"),
    ],
)
def test_mode_alone(text, mode):
    found = parse_controls(text)
    assert (found.key, found.mode) == (None, mode)


@pytest.mark.parametrize("text", ["a major key change halfway", "the major key to success", "a minor change", "minor details"])
def test_not_a_mode(text):
    assert parse_controls(text).mode is None


# --- meter ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, meter",
    [
        ("in 3/4", "3/4"),
        ("a folk song in 3/4 time", "3/4"),
        ("4/4", "4/4"),
        ("a rock beat in common time", "4/4"),
        ("a waltz for strings", "3/4"),
        ("a waltzing drum groove", "3/4"),
        ("a waltz beat in three.", "3/4"),
        ("in triple meter", "3/4"),
        ("quadruple meter", "4/4"),
        ("three beats per bar", "3/4"),
        ("three-four time", "3/4"),
        ("four beats per bar", "4/4"),
        ("a gentle 3/4 drum pattern", "3/4"),
    ],
)
def test_meter_phrases(text, meter):
    found = parse_controls(text)
    assert found.meter == meter and found.phrases["meter"] in text


@pytest.mark.parametrize(
    "text",
    [
        "for 3/4 of the song",
        "3/4/2021",
        "split in three parts",
        "a 4 bar loop",
        "in 6/8",  # read, but not supported
        "a shuffle in 12/8",
        "a waltz in 6/8",
        "a jazz waltz in 4/4",  # contradicts itself
        "80s synth pop",
        "24/7 radio",
    ],
)
def test_not_a_supported_meter(text):
    assert parse_controls(text).meter is None


# --- drums ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, drums",
    [
        ("piano with drums", True),
        ("drums and bass", True),
        ("a drum kit and an upright bass", True),
        ("a drum machine loop", True),
        ("light percussion with a tambourine", True),
        ("relentless metal drumming", True),
        ("a kick drum and hi-hats", True),
        ("an 808 beat under a piano", True),
        ("no drums", False),
        ("without drums", False),
        ("It is played without any drums.", False),
        ("drumless ambient", False),
        ("a drum-free arrangement", False),
        ("no percussion", False),
        ("without any percussion", False),
        ("The track has no percussion at all.", False),
        ("Percussion: none.", False),
        ("You can't hear any drums.", False),
        ("no vocals or drums", False),
        ("No drums are present.", False),
        ("percussion-free", False),
        ("free of drums", False),
        ("there aren't any drums", False),
        ("drums are absent", False),
        ("no drum kit", False),
        ("with no drums", False),
        ("a drummer and a bassist", True),
        ("a steel drum melody, no drums", False),
    ],
)
def test_drum_phrases(text, drums):
    found = parse_controls(text)
    assert found.drums is drums and found.phrases["drums"] in text


@pytest.mark.parametrize(
    "text",
    [
        "no drums, just a kick drum",  # both
        "drums at first, then no percussion",
        "a steel drum melody",  # a melodic instrument
        "a tongue drum",
        "percussive piano",
        "no live drums",  # maybe programmed ones
        "a calm piano piece",
    ],
)
def test_drums_not_stated(text):
    assert parse_controls(text).drums is None


def test_no_vocals_but_drums_is_drums_on():
    assert parse_controls("no vocals, drums and bass").drums is True
    assert parse_controls("no bass but drums").drums is True


# --- the whole prompt -------------------------------------------------------------------------


def test_a_prompt_with_every_control():
    text = "A melancholic waltz in F# minor at 84 BPM, solo piano, no drums."
    found = parse_controls(text)
    assert found == StatedControls(
        bpm=84.0,
        key="F# minor",
        mode="minor",
        meter="3/4",
        drums=False,
        phrases={"bpm": "at 84 BPM", "key": "in F# minor", "mode": "in F# minor", "meter": "waltz", "drums": "no drums"},
    )


def test_nothing_stated():
    assert parse_controls("") == StatedControls()
    assert parse_controls("a calm piano piece for a rainy day") == StatedControls()


def test_stated_controls_is_frozen():
    with pytest.raises(AttributeError):
        parse_controls("at 92 BPM").bpm = 100  # type: ignore[misc]


# --- parse_key, key_name, parse_meter ---------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("F# minor", (6, "minor")),
        ("f#m", (6, "minor")),
        ("F sharp minor", (6, "minor")),
        ("Gb", (6, "major")),
        ("B-flat major", (10, "major")),
        ("Bbm", (10, "minor")),
        ("Am", (9, "minor")),
        ("A min", (9, "minor")),
        ("C", (0, "major")),
        ("Cmaj", (0, "major")),
        ("CM", (0, "major")),
        ("c minor key", (0, "minor")),
        ("Eb", (3, "major")),
        ("D♭ major", (1, "major")),
    ],
)
def test_parse_key(value, expected):
    assert parse_key(value) == expected


@pytest.mark.parametrize(
    "a, b",
    [("Gb", "F#"), ("A#", "Bb"), ("Cb", "B"), ("E#", "F"), ("B#", "C"), ("Fb", "E"), ("Db minor", "C# minor"), ("G# minor", "Ab minor")],
)
def test_enharmonics_are_one_pitch_class(a, b):
    assert parse_key(a) == parse_key(b)


def test_key_name_round_trip():
    for tonic, name in enumerate(PITCH_CLASSES):
        for mode in ("major", "minor"):
            assert key_name(tonic, mode) == f"{name} {mode}"
            assert parse_key(key_name(tonic, mode)) == (tonic, mode)


@pytest.mark.parametrize("value", ["H minor", "F##", "", "A minor 7", "xyz", "A dorian", "minor"])
def test_parse_key_errors_name_the_value(value):
    with pytest.raises(ValueError) as err:
        parse_key(value)
    message = str(err.value)
    assert repr(value) in message and "\n" not in message


@pytest.mark.parametrize("tonic, mode", [(12, "major"), (-1, "minor"), (0, "dorian"), (True, "major")])
def test_key_name_errors(tonic, mode):
    with pytest.raises(ValueError):
        key_name(tonic, mode)


@pytest.mark.parametrize("value, beats", [("3/4", 3), ("4/4", 4), ("3", 3), ("4", 4), (" 3 / 4 ", 3)])
def test_parse_meter(value, beats):
    assert parse_meter(value) == beats


@pytest.mark.parametrize("value", ["6/8", "2/4", "5/4", "12/8", "3/8", "5"])
def test_parse_meter_rejects_other_meters(value):
    with pytest.raises(ValueError, match="not supported") as err:
        parse_meter(value)
    assert repr(value) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["waltz", "", "three", "3/4/4"])
def test_parse_meter_errors_name_the_value(value):
    with pytest.raises(ValueError) as err:
        parse_meter(value)
    assert repr(value) in str(err.value)


# --- the module itself ------------------------------------------------------------------------


def test_controls_imports_only_the_standard_library():
    tree = ast.parse(Path(controls.__file__).read_text())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "re", "dataclasses", "text2music.theory"}


# --- the synthetic corpus: precision 1.0 and every stated control read -------------------------------

# (caption, bpm, key, meter, drums, the fields it states): captions of the synthetic corpus
# (/tmp/eval/synth/manifest.jsonl, written by text2music.data.synth.captions) and their ground truth.
CORPUS_CAPTIONS = [
    (
        (
            "An aggressive heavy metal instrumental with a heavily distorted guitar melody, an overdriven electric guitar, "
            "a string orchestra and a picked electric bass, driven by acoustic drums. It moves at 152 beats per minute. It "
            "is in F# minor. It could play during a sports highlight reel."
        ),
        152,
        "F# minor",
        "4/4",
        True,
        "bpm key mode drums",
    ),
    (
        (
            "Melancholic and mournful, this gentle ambient piece is led by a synth pad. A thumb piano plays flowing broken "
            "chords while a choir lays down a warm bed of sustained chords. Underneath, a contrabass plays a simple bass "
            "line. There are no drums in this piece. It is played softly."
        ),
        64,
        "Bb minor",
        "4/4",
        False,
        "drums",
    ),
    (
        "A fast country tune on acoustic guitar, with a live drum kit. It sounds exciting and punchy.",
        147,
        "E major",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "The song is a slow-tempo ambient instrumental. It is in E minor. A wordless choir carries a mellow melody. A "
            "kalimba arpeggiates the chords, while a fretless bass plays sustained bass notes. No drums are present."
        ),
        77,
        "E minor",
        "4/4",
        False,
        "key mode drums",
    ),
    (
        (
            "In this latin track you can hear an alto saxophone playing the melody. In the background, a grand piano plays "
            "a syncopated montuno pattern, and an electric bass plays a syncopated tumbao bass line. You can't hear any "
            "drums. The song is intense and subdued."
        ),
        137,
        "D minor",
        "4/4",
        False,
        "drums",
    ),
    (
        (
            "A tender ambient instrumental with a piano melody, a thumb piano, a string section and a deep synth bass, "
            "without drums. It moves at a slow pace. This is an instrumental piece. The piece is in Bb major. It would be "
            "good for studying or meditation."
        ),
        60,
        "Bb major",
        "4/4",
        False,
        "key mode drums",
    ),
    (
        (
            "The melody is played by a clean electric guitar while a synth pad provides the harmony and a fretless bass "
            "plays the bass. It is an indie pop piece at a medium pace. A drum kit keeps time with a punchy pop groove. The"
            " mood is uplifting and feel-good. It is in Eb major."
        ),
        91,
        "Eb major",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "The melody and the chords are both played on a piano. It is a chamber music piece at a medium pace. There are "
            "no drums in this piece. Overall it feels uplifting and cheerful."
        ),
        97,
        "B major",
        "3/4",
        False,
        "drums",
    ),
    (
        (
            "This audio contains a blues instrumental at roughly 99 BPM. A piano plays the lead melody over an overdriven "
            "guitar. The electric bass provides the bass. The rhythm is provided by live drums playing a shuffle beat. "
            "There are no voices in this song."
        ),
        99,
        "Eb major",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "The melody is played by a piano while a hollow-body electric guitar provides the harmony and a double bass "
            "plays the bass. It is a lounge jazz piece at around 139 BPM. Jazz drums keep time with a relaxed swing feel. "
            "It sounds lively."
        ),
        139,
        "B major",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        "A leisurely roots reggae tune on Hammond organ, with roomy acoustic drums. It sounds sad and punchy.",
        76,
        "A minor",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "A tense EDM instrumental with an e-piano melody, a synthesized string section and a synth bass, driven by "
            "programmed drums. It is in B minor. It moves at a lively tempo. The piece is in B minor. It could be used in "
            "an action movie trailer."
        ),
        141,
        "B minor",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        "A gentle ambient tune on choir, with no drums. It sounds tender and subdued.",
        85,
        "F major",
        "4/4",
        False,
        "drums",
    ),
    (
        (
            "This audio contains a power metal instrumental at roughly 161 BPM. A rock organ plays the lead melody over an "
            "overdriven electric guitar. The bass guitar provides the bass. The beat comes from acoustic drums playing "
            "aggressive drumming. This music would suit a chase scene."
        ),
        161,
        "Bb minor",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "The song is a fast-tempo bluegrass-tinged country instrumental. The main melody is played by an acoustic "
            "guitar. A banjo plays a rippling arpeggio, and a double bass plays a bouncing bass line. The drums lay down a "
            "simple country groove. The harmony stays in F# major."
        ),
        136,
        "F# major",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "Performed on a Hammond organ over a distorted electric guitar and an electric bass, this heavy metal number is"
            " tense. The pace is lively. The drums lay down fast double-kick drumming. Someone might play it when they want"
            " something dramatic."
        ),
        161,
        "F minor",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "This is a hip hop piece at 81 beats per minute. A trumpet carries a mellow melody. A synth pad holds sustained"
            " chords, and a bass guitar plays a booming 808 bass. Acoustic drums keep time with a boom bap beat. It sounds "
            "sad, and this piece could be used in the soundtrack of a sad movie scene."
        ),
        81,
        "A minor",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "Cheerful and pleasant, this medium bluegrass-tinged country piece is led by a banjo. A clean electric guitar "
            "plays a rippling arpeggio, while a double bass plays an alternating root-fifth bass line. There are no vocals."
            " The rhythm is provided by a live drum kit playing a waltzing drum groove."
        ),
        118,
        "G major",
        "3/4",
        True,
        "meter drums",
    ),
    (
        (
            "The song is a fast-tempo power metal instrumental. The lead is a crunchy electric guitar playing a fiery tune."
            " A distorted electric guitar drives the song with palm-muted power chords, and a bass guitar plays a pumping "
            "bass line. There are no voices in this song. The drums lay down relentless metal drumming."
        ),
        172,
        "G minor",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "A fast, intense country track. The lead is an acoustic guitar playing an intense tune. A banjo plays flowing "
            "broken chords, and an electric bass plays an alternating root-fifth bass line. The beat comes from acoustic "
            "drums playing a simple country groove. It is written in the key of E minor."
        ),
        144,
        "E minor",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "The melody is played by a square lead synth while a clean electric guitar provides the harmony and an electric"
            " bass plays the bass. It is an indie pop piece with a lively tempo. Programmed drums keep time with a steady "
            "backbeat. Overall it feels intense and tense. It is written in the key of C minor."
        ),
        130,
        "C minor",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "A quick, exciting country track. The lead is a grand piano playing a bouncy tune. A banjo plays arpeggios, and"
            " an electric bass plays a bouncing bass line. Acoustic drums keep time with a gentle 3/4 drum pattern."
        ),
        149,
        "G major",
        "3/4",
        True,
        "meter drums",
    ),
    (
        (
            "Energetic and happy, this brisk cool jazz piece is led by a clean jazz guitar. An electric organ comps behind "
            "the soloist. Underneath, a double bass plays a walking bass line. The rhythm is provided by a jazz drum kit "
            "playing a light swing groove. There are no vocals."
        ),
        175,
        "C major",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "Performed on a mouth harp over a Hammond organ and an upright bass, this blues number is cheerful. Its tempo "
            "is steady, around 109 BPM. The beat comes from live drums playing a bluesy shuffle groove. Someone might play "
            "it when they want something warm."
        ),
        109,
        "F major",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "A peaceful Chicago blues instrumental with an organ melody, an overdriven guitar and an upright bass, driven "
            "by jazz drums. The tempo is gentle (69 BPM). It is written in the key of F# major. It could be played in a "
            "spa."
        ),
        69,
        "F# major",
        "4/4",
        True,
        "bpm key mode drums",
    ),
    (
        (
            "Picture this rock instrumental in a scene: it could be used in an upbeat advertisement. It is built around a "
            "rock organ, with a distorted guitar and a bass guitar underneath. The pace is fast. The feeling is upbeat."
        ),
        155,
        "Bb major",
        "4/4",
        True,
        "",
    ),
    (
        (
            "A wistful blues instrumental with an acoustic piano melody, an electric organ and a bass guitar, driven by a "
            "drum kit. There are no vocals. It moves at around 70 BPM. It is in D minor. It would suit a late-night "
            "roadhouse."
        ),
        70,
        "D minor",
        "4/4",
        True,
        "bpm key mode drums",
    ),
    (
        (
            "What you hear is a quiet EDM instrumental. Up front there is a chiptune-like square lead; behind it, a warm "
            "synthesizer pad plays short chord stabs. The low end belongs to a synth bass. Percussion comes from programmed"
            " drums. Mood-wise it is dramatic, in Eb minor."
        ),
        148,
        "Eb minor",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "A quick, urgent folk track. The lead is a flute playing an urgent tune. A harp plays flowing broken chords, "
            "and an acoustic guitar plays an alternating root-fifth bass line. There are no drums in this piece."
        ),
        125,
        "C minor",
        "4/4",
        False,
        "drums",
    ),
    (
        (
            "This is a hip hop piece with a medium tempo. The main melody is played by a string section. A jazz guitar "
            "comps jazzy chords, and an electric bass plays deep sub bass. Electronic drums keep time with a head-nodding "
            "beat. It sounds moody, and this piece could be used as background music for a vlog."
        ),
        95,
        "F minor",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "This is a folk piece at around 101 BPM. A flute plays the dark melody. A piano lays down the chords, and a "
            "double bass plays a simple bass line. The drums lay down a waltz beat in three. The song has a haunting feel."
        ),
        101,
        "C# minor",
        "3/4",
        True,
        "bpm meter drums",
    ),
    (
        (
            "In this Americana track you can hear a steel-string acoustic guitar playing the melody. In the background, a "
            "banjo arpeggiates the chords, and a bass guitar plays a bouncing bass line. The rhythm is provided by drums "
            "played with brushes playing a waltzing drum groove. The song is cheerful and gentle."
        ),
        107,
        "Bb major",
        "3/4",
        True,
        "meter drums",
    ),
    (
        (
            "Tender and relaxing, this gentle Jamaican reggae piece is led by a trombone. The piece is in F major. A piano "
            "plays the classic reggae skank. A bass guitar plays a heavy dub bass. The drums lay down a laid-back one-drop "
            "groove."
        ),
        67,
        "F major",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "A cheerful traditional folk instrumental with a pan flute melody, an acoustic guitar and an acoustic guitar, "
            "driven by roomy acoustic drums. The tempo is medium (110 BPM). It is written in the key of C# major. It could "
            "be played around a campfire."
        ),
        110,
        "C# major",
        "3/4",
        True,
        "bpm key mode drums",
    ),
    (
        (
            "Easygoing and cheerful, this medium lounge jazz piece is led by a flute. A clean jazz guitar adds syncopated "
            "jazz chords. It is in G major. The bass line is played by a double bass. The beat comes from jazz drums "
            "playing a light swing groove."
        ),
        105,
        "G major",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "Picture this baroque-style classical instrumental in a scene: it could accompany a farewell scene in a drama. "
            "It is built around a grand piano. The pace is slow and there are no drums. The feeling is wistful. This is an "
            "instrumental piece."
        ),
        68,
        "Ab minor",
        "3/4",
        False,
        "drums",
    ),
    (
        (
            "A somber classical instrumental with a solo grand piano, without drums. The harmony stays in C# minor. It "
            "moves with a unhurried tempo. It is written in the key of C# minor. It would fit a reflective documentary "
            "moment."
        ),
        88,
        "C# minor",
        "3/4",
        False,
        "key mode drums",
    ),
    (
        (
            "This hard rock song features a distorted guitar playing an intense melody. This is accompanied by an "
            "overdriven guitar that chugs heavy power chords and a bass guitar playing a pumping bass line. The beat comes "
            "from a live drum kit playing a driving backbeat. The tempo is brisk and the mood of this song is urgent. This "
            "song would suit a road trip."
        ),
        156,
        "C# minor",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "A warm pop instrumental with a piano melody, an electric piano and a fretless bass, driven by a drum machine. "
            "The tempo is moderate (91 BPM). It is in F major. It would fit a travel vlog."
        ),
        91,
        "F major",
        "4/4",
        True,
        "bpm key mode drums",
    ),
    (
        (
            "A slow, tender traditional folk track. The lead is an acoustic guitar playing a gentle tune. A grand piano "
            "provides chordal backing, and an electric bass plays a two-beat bass line. Drums played with brushes keep time"
            " with a gentle 3/4 drum pattern. The piece is in C major."
        ),
        85,
        "C major",
        "3/4",
        True,
        "key mode meter drums",
    ),
    (
        (
            "A lively, dramatic metal track. The lead is an overdriven electric guitar playing a fiery tune. A distorted "
            "electric guitar plays power chords, and an electric bass plays a pumping bass line. The rhythm is provided by "
            "live drums playing relentless metal drumming. It is written in the key of B minor."
        ),
        153,
        "B minor",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "What you hear is a delicate jazz instrumental. Up front there is a trombone; behind it, an acoustic piano "
            "plays extended jazz chords. The low end belongs to an acoustic bass. Percussion comes from brushed drums. "
            "Mood-wise it is lively, in E major."
        ),
        129,
        "E major",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "This is an acoustic folk piece at roughly 122 BPM. A clarinet plays the dark melody. A steel-string acoustic "
            "guitar arpeggiates the chords, and an acoustic guitar plays a bouncing bass line. The beat comes from a live "
            "drum kit playing light percussion with a tambourine. The song has a haunting feel."
        ),
        122,
        "F# minor",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "The song is a medium-tempo house instrumental. The lead is an electric piano playing a catchy tune. An "
            "acoustic piano punctuates with offbeat stabs, while a deep synth bass plays a pumping offbeat bass. A TR-808 "
            "drum machine keeps time with a steady dance beat. The harmony stays in F major."
        ),
        118,
        "F major",
        "4/4",
        True,
        "key mode drums",
    ),
    (
        (
            "Performed on a square lead synth over an acoustic guitar and a bass guitar, this pop number is uplifting. Its "
            "tempo is medium, around 111 BPM. The drums lay down a steady backbeat. Someone might play it when they want "
            "something easygoing."
        ),
        111,
        "Bb major",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "This jazz song features a saxophone playing a haunting melody. This is accompanied by an acoustic piano that "
            "plays extended jazz chords and an acoustic bass playing a walking bass. A jazz drum kit keeps time with a "
            "gentle 3/4 drum pattern. The tempo is medium and the mood of this song is brooding."
        ),
        95,
        "C minor",
        "3/4",
        True,
        "meter drums",
    ),
    (
        (
            "Performed on a flute over a steel-string acoustic guitar and an upright bass, this acoustic folk number is "
            "cheerful. Its tempo is moderate, around 102 BPM. Drums played with brushes keep time with light percussion "
            "with a tambourine. Someone might play it when they want something uplifting."
        ),
        102,
        "D major",
        "4/4",
        True,
        "bpm drums",
    ),
    (
        (
            "In this rock track you can hear a distorted electric guitar playing the melody. There are no voices in this "
            "song. In the background, a grand piano plays chords, and an electric bass plays a pumping bass line. The "
            "rhythm is provided by hard-hitting drums playing a steady rock beat. The song is upbeat and punchy."
        ),
        158,
        "F major",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "The melody is played by a cello while a piano provides the harmony and a cello plays the bass. It is a "
            "classical piece at 71 beats per minute. No drums are present. Overall it feels sad and mournful."
        ),
        71,
        "Eb minor",
        "4/4",
        False,
        "bpm drums",
    ),
    (
        (
            "This hip hop song features a flute playing a plaintive melody. This is accompanied by a string ensemble that "
            "lays down a warm bed of sustained chords and a bass guitar playing a groovy, syncopated bass line. The rhythm "
            "is provided by an 808 beat playing a boom bap beat. The tempo is gentle and the mood of this song is "
            "melancholic."
        ),
        79,
        "F minor",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "This audio contains an indie pop instrumental at a medium pace. An e-piano plays the lead melody over a pad "
            "synth. The bass guitar provides the bass. A live drum kit keeps time with a punchy pop groove. This music "
            "could be played in a cafe."
        ),
        110,
        "F major",
        "4/4",
        True,
        "drums",
    ),
    (
        (
            "In this chillout track you can hear a flute playing the melody. In the background, a concert harp plays "
            "flowing broken chords, and a fretless bass plays sustained bass notes. You can't hear any drums. The song is "
            "melancholic and soft. This is an instrumental piece."
        ),
        81,
        "A minor",
        "4/4",
        False,
        "drums",
    ),
    (
        (
            "The song is a medium-tempo Celtic folk instrumental. A pan flute carries a catchy melody. A banjo plays "
            "arpeggios, and an acoustic guitar plays an alternating root-fifth bass line. The rhythm is provided by roomy "
            "acoustic drums playing a waltz beat in three."
        ),
        92,
        "C major",
        "3/4",
        True,
        "meter drums",
    ),
    (
        (
            "A gentle, peaceful ambient track. The lead is a flute playing a mellow tune. An acoustic piano plays arpeggios"
            " and a choir sustains long chords, while a contrabass plays a simple bass line. No drums are present. It is "
            "written in the key of E major."
        ),
        84,
        "E major",
        "4/4",
        False,
        "key mode drums",
    ),
]
# (aspect list, key, drums, the fields it states)
CORPUS_ASPECTS = [
    (
        [
            "EDM",
            "dark synth lead melody",
            "synth string pad",
            "bass",
            "drums",
            "medium tempo",
            "mysterious",
            "brooding",
            "soft",
            "minor key",
            "no vocals",
        ],
        "Eb minor",
        True,
        "mode drums",
    ),
    (
        ["traditional folk", "harmonica", "accordion", "upright bass", "no drums", "fast tempo", "tense", "intense", "no voices"],
        "C minor",
        False,
        "drums",
    ),
    (
        ["Celtic folk", "banjo arpeggios", "loud", "haunting clarinet melody", "bass", "no percussion", "pensive", "medium tempo"],
        "Eb minor",
        False,
        "drums",
    ),
    (["hip hop", "slow tempo", "plaintive flute melody", "piano", "electric bass", "mournful", "drums"], "D minor", True, "drums"),
    (
        ["pop", "mysterious", "no drums", "synth bass", "acoustic guitar", "electric piano", "medium tempo", "loud", "minor key"],
        "F minor",
        False,
        "mode drums",
    ),
    (
        [
            "metal",
            "intense distorted electric guitar melody",
            "overdriven electric guitar",
            "bass",
            "powerful drums",
            "fast tempo",
            "intense",
            "dramatic",
            "loud",
            "instrumental",
        ],
        "D minor",
        True,
        "drums",
    ),
    (
        [
            "indie pop",
            "synth lead",
            "acoustic guitar strumming",
            "synth bass",
            "electronic drums",
            "medium tempo",
            "cheerful",
            "feel-good",
            "loud",
            "no voices",
        ],
        "Bb major",
        True,
        "drums",
    ),
    (
        [
            "orchestral",
            "cello",
            "harpsichord",
            "no vocals",
            "piano arpeggios",
            "lively",
            "no percussion",
            "fast tempo",
            "string ensemble sustained chords",
        ],
        "G major",
        False,
        "drums",
    ),
    (
        ["traditional folk", "acoustic guitar", "solo acoustic guitar", "no drums", "medium tempo", "dark", "moody", "minor key"],
        "F# minor",
        False,
        "mode drums",
    ),
    (
        [
            "thrash metal",
            "haunting synth lead melody",
            "distorted electric guitar",
            "bass",
            "powerful drums",
            "medium tempo",
            "mysterious",
            "dark",
            "no vocals",
        ],
        "C minor",
        True,
        "drums",
    ),
    (
        [
            "heavy metal",
            "soaring overdriven electric guitar melody",
            "fast tempo",
            "urgent",
            "distorted electric guitar power chords",
            "bass guitar",
            "instrumental",
            "powerful drums",
        ],
        "F minor",
        True,
        "drums",
    ),
    (["swing jazz", "upbeat flute melody", "piano comping", "bass", "jazz drums", "fast tempo", "exciting"], "F major", True, "drums"),
]


@pytest.mark.parametrize("caption, bpm, key, meter, drums, fields", CORPUS_CAPTIONS)
def test_corpus_captions(caption, bpm, key, meter, drums, fields):
    truth = {"bpm": float(bpm), "key": key, "mode": key.split()[1], "meter": meter, "drums": drums}
    found = stated(caption)
    assert found == {name: truth[name] for name in fields.split()}


@pytest.mark.parametrize("aspects, key, drums, fields", CORPUS_ASPECTS)
def test_corpus_aspect_lists(aspects, key, drums, fields):
    truth = {"mode": key.split()[1], "drums": drums}
    assert stated(", ".join(aspects)) == {name: truth[name] for name in fields.split()}
