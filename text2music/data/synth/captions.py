"""Captions and aspect lists in the style of MusicCaps, from a song's ground truth.

Every statement in a caption is true of the audio: genre, the instruments and what each one
does (melody, chords, bass line, drums), tempo (in words, sometimes in BPM), mood, dynamics,
sometimes key or mode, and a plausible use. Wording varies through synonyms, optional
sentences and orderings, and through *template families*: sentence plans that differ in
structure. Families in `HELDOUT_FAMILIES` are used only for test-split clips, so an evaluation
can measure generalisation to unseen wording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from text2music.data.synth.compose import Song

FAMILIES = tuple(f"F{i:02d}" for i in range(12))
HELDOUT_FAMILIES = ("F09", "F10", "F11")
TRAIN_FAMILIES = tuple(f for f in FAMILIES if f not in HELDOUT_FAMILIES)
HELDOUT_SHARE = 0.5  # share of test clips captioned with a held-out family

GENRE_WORDS = {
    "classical": ["classical", "classical", "orchestral", "chamber music", "baroque-style classical"],
    "jazz": ["jazz", "jazz", "swing jazz", "cool jazz", "lounge jazz"],
    "rock": ["rock", "rock", "classic rock", "hard rock", "alternative rock"],
    "pop": ["pop", "pop", "pop", "indie pop", "soft pop"],
    "electronic": ["electronic", "techno", "house", "EDM", "electronic dance"],
    "ambient": ["ambient", "ambient", "new age", "atmospheric ambient", "chillout"],
    "hip hop": ["hip hop", "hip-hop", "hip hop", "boom bap hip hop", "lo-fi hip hop"],
    "blues": ["blues", "blues", "electric blues", "rhythm and blues", "Chicago blues"],
    "folk": ["folk", "folk", "acoustic folk", "traditional folk", "Celtic folk"],
    "country": ["country", "country", "bluegrass-tinged country", "country and western", "Americana"],
    "reggae": ["reggae", "reggae", "roots reggae", "dub-influenced reggae", "Jamaican reggae"],
    "latin": ["latin", "latin", "salsa", "bossa nova", "Latin American"],
    "metal": ["metal", "heavy metal", "metal", "thrash metal", "power metal"],
}

# Caption names per instrument (first = canonical, used in aspect lists too).
INSTRUMENT_WORDS = {
    "piano": ["piano", "acoustic piano", "grand piano"],
    "electric piano": ["electric piano", "Rhodes piano", "e-piano"],
    "harpsichord": ["harpsichord"],
    "clavinet": ["clavinet", "funky clavinet"],
    "vibraphone": ["vibraphone"],
    "marimba": ["marimba"],
    "organ": ["organ", "Hammond organ", "electric organ"],
    "rock organ": ["rock organ", "Hammond organ", "organ"],
    "accordion": ["accordion"],
    "harmonica": ["harmonica", "mouth harp"],
    "nylon guitar": ["nylon-string guitar", "classical guitar", "Spanish guitar"],
    "acoustic guitar": ["acoustic guitar", "steel-string acoustic guitar"],
    "jazz guitar": ["jazz guitar", "hollow-body electric guitar", "clean jazz guitar"],
    "electric guitar": ["electric guitar", "clean electric guitar"],
    "overdriven guitar": ["overdriven electric guitar", "crunchy electric guitar", "overdriven guitar"],
    "distorted guitar": ["distorted electric guitar", "heavily distorted guitar", "distorted guitar"],
    "violin": ["violin", "solo violin"],
    "cello": ["cello"],
    "pizzicato strings": ["pizzicato string section", "plucked string section"],
    "harp": ["harp", "concert harp"],
    "string ensemble": ["string ensemble", "string section", "string orchestra"],
    "synth strings": ["synth string pad", "synthesized string section"],
    "choir": ["choir", "wordless choir"],
    "trumpet": ["trumpet"],
    "trombone": ["trombone"],
    "brass section": ["brass section", "horn section"],
    "synth brass": ["synth brass", "synthesized brass"],
    "alto saxophone": ["alto saxophone", "alto sax", "saxophone"],
    "tenor saxophone": ["tenor saxophone", "tenor sax", "saxophone"],
    "oboe": ["oboe"],
    "clarinet": ["clarinet"],
    "flute": ["flute"],
    "pan flute": ["pan flute"],
    "square lead": ["square wave synth lead", "chiptune-like square lead", "square lead synth"],
    "synth lead": ["synth lead", "sawtooth synth lead", "lead synthesizer"],
    "synth pad": ["synth pad", "warm synthesizer pad", "pad synth"],
    "sitar": ["sitar"],
    "banjo": ["banjo"],
    "fiddle": ["fiddle"],
    "steel drums": ["steel drum", "steel pan"],
    "kalimba": ["kalimba", "thumb piano"],
}
BASS_WORDS = {
    "upright bass": ["upright bass", "double bass", "acoustic bass"],
    "electric bass": ["electric bass", "bass guitar"],
    "picked bass": ["bass guitar", "picked electric bass"],
    "fretless bass": ["fretless bass"],
    "slap bass": ["slap bass"],
    "synth bass": ["synth bass", "deep synth bass"],
    "analog synth bass": ["analog synth bass", "synth bass"],
    "cello": ["cello"],
    "contrabass": ["double bass", "contrabass"],
    "piano": ["piano"],
    "harpsichord": ["harpsichord"],
    "acoustic guitar": ["acoustic guitar"],
    "nylon guitar": ["classical guitar"],
    "tuba": ["tuba"],
}
DRUM_KIT_WORDS = {
    "standard": ["acoustic drums", "a drum kit", "live drums"],
    "room": ["acoustic drums", "a live drum kit", "roomy acoustic drums"],
    "power": ["powerful drums", "a heavy drum kit", "hard-hitting drums"],
    "electronic": ["electronic drums", "a drum machine", "programmed drums"],
    "808": ["808 drums", "a TR-808 drum machine", "an 808 beat"],
    "jazz": ["jazz drums", "a jazz drum kit"],
    "brush": ["brushed drums", "drums played with brushes"],
}
PATTERN_WORDS = {
    "rock": ["a steady rock beat", "a straight rock groove", "a driving backbeat"],
    "pop": ["a simple pop beat", "a steady backbeat", "a punchy pop groove"],
    "four_on_floor": ["a four-on-the-floor kick", "a pounding four-on-the-floor beat", "a steady dance beat"],
    "boom_bap": ["a boom bap beat", "a laid-back hip hop groove", "a head-nodding beat"],
    "swing": ["a swinging ride cymbal pattern", "a light swing groove", "a relaxed swing feel"],
    "shuffle": ["a shuffle beat", "a bluesy shuffle groove", "a swung shuffle rhythm"],
    "one_drop": ["a one-drop rhythm", "a laid-back one-drop groove", "a reggae one-drop beat"],
    "latin": ["latin percussion with congas and claves", "a clave-driven percussion groove", "congas, claves and shakers"],
    "metal": ["fast double-kick drumming", "relentless metal drumming", "aggressive drumming"],
    "country": ["a train beat", "a country two-step beat", "a simple country groove"],
    "folk": ["light percussion with a tambourine", "a gentle tambourine groove", "sparse folk percussion"],
    "ambient": ["a soft, sparse beat", "a minimal electronic pulse", "a gentle, understated beat"],
    "waltz": ["a waltz beat in three", "a gentle 3/4 drum pattern", "a waltzing drum groove"],
}
ACC_STYLE = {  # (verb phrase, noun phrase for aspects)
    "block": (["plays chords", "provides chordal backing", "plays steady chords", "lays down the chords"], "chords"),
    "pad": (
        ["holds sustained chords", "provides a lush pad", "lays down a warm bed of sustained chords", "sustains long chords"],
        "sustained chords",
    ),
    "arpeggio": (["plays arpeggios", "arpeggiates the chords", "plays flowing broken chords", "plays a rippling arpeggio"], "arpeggios"),
    "alberti": (["plays an Alberti bass figure", "plays flowing broken chords", "plays a rolling broken-chord pattern"], "broken chords"),
    "strum": (["strums the chords", "strums along", "plays a strummed rhythm", "provides strummed chords"], "strumming"),
    "comping": (["comps jazzy chords", "comps behind the soloist", "adds syncopated jazz chords", "plays extended jazz chords"], "comping"),
    "power": (
        ["chugs heavy power chords", "plays power chords", "drives the song with palm-muted power chords", "hammers out power chords"],
        "power chords",
    ),
    "skank": (["plays offbeat skank chords", "chops chords on the offbeat", "plays the classic reggae skank"], "offbeat skank"),
    "stabs": (["plays short chord stabs", "adds rhythmic chord stabs", "punctuates with offbeat stabs"], "chord stabs"),
    "montuno": (
        ["plays a syncopated montuno pattern", "plays a repeating montuno figure", "plays a syncopated latin piano pattern"],
        "montuno",
    ),
    "shuffle": (["plays a bluesy shuffle riff", "plays a boogie shuffle riff", "chugs a shuffle pattern"], "shuffle riff"),
    "bossa": (["plays syncopated bossa nova chords", "plays a gentle bossa nova comping pattern"], "bossa nova chords"),
}
BASS_STYLE = {
    "roots": ["a simple bass line", "sustained bass notes", "deep held bass notes"],
    "half": ["a simple bass line", "a steady bass line", "a supportive bass line"],
    "eighths": ["a driving eighth-note bass line", "a pumping bass line", "steady eighth notes on the bass"],
    "root_fifth": ["an alternating root-fifth bass line", "a bouncing bass line", "a two-beat bass line"],
    "walking": ["a walking bass line", "a swinging walking bass", "a walking bass"],
    "boogie": ["a boogie-woogie bass line", "a rolling boogie bass", "a bluesy walking bass figure"],
    "octave": ["a pulsing octave bass line", "a bouncy octave bass", "an energetic octave-jumping bass"],
    "offbeat": ["an offbeat bass line", "a pumping offbeat bass", "a bass that hits between the kicks"],
    "syncopated": ["a groovy, syncopated bass line", "a funky bass line", "a syncopated bass groove"],
    "808": ["a booming 808 bass", "deep sub bass", "a heavy 808 sub"],
    "reggae": ["a deep, round reggae bass line", "a heavy dub bass", "a syncopated reggae bass line"],
    "tumbao": ["a syncopated tumbao bass line", "a latin bass groove", "an anticipated latin bass line"],
}
TEMPO_WORDS = {
    "slow": ["slow", "slow", "leisurely", "unhurried", "gentle"],
    "medium": ["medium", "moderate", "medium", "relaxed, moderate", "steady"],
    "fast": ["fast", "quick", "fast", "lively", "brisk"],
}
MOOD_WORDS = {
    "sad": ["sad", "melancholic", "somber", "mournful", "wistful", "sorrowful"],
    "mysterious": ["mysterious", "moody", "dark", "pensive", "brooding", "haunting"],
    "dramatic": ["dramatic", "intense", "tense", "urgent", "gripping", "aggressive"],
    "calm": ["calm", "peaceful", "relaxing", "serene", "tender", "soothing"],
    "cheerful": ["cheerful", "warm", "uplifting", "easygoing", "pleasant", "feel-good"],
    "happy": ["happy", "energetic", "upbeat", "joyful", "lively", "exciting"],
}
DYNAMICS_WORDS = {
    "soft": ["soft", "quiet", "gentle", "delicate", "subdued"],
    "loud": ["loud", "powerful", "punchy", "forceful", "full-on"],
}
MELODY_ADJ = {
    "sad": ["mournful", "plaintive", "mellow", "expressive"],
    "mysterious": ["haunting", "brooding", "dark", "winding"],
    "dramatic": ["soaring", "urgent", "intense", "fiery"],
    "calm": ["mellow", "gentle", "tender", "lyrical"],
    "cheerful": ["catchy", "bright", "sunny", "playful"],
    "happy": ["catchy", "lively", "bouncy", "upbeat"],
}
USES = {
    "sad": [
        "could be used in the soundtrack of a sad movie scene",
        "would suit a rainy-day playlist",
        "could accompany a farewell scene in a drama",
        "would fit a reflective documentary moment",
    ],
    "mysterious": [
        "could be used in a detective film",
        "would fit a video game exploring a dark dungeon",
        "could accompany a suspenseful thriller scene",
        "would suit a late-night drive",
    ],
    "dramatic": [
        "could be used in an action movie trailer",
        "would suit a chase scene",
        "could play during a sports highlight reel",
        "would fit a boss fight in a video game",
    ],
    "calm": [
        "could be played in a spa",
        "would be good for studying or meditation",
        "could play softly in a cafe",
        "would suit a nature documentary",
    ],
    "cheerful": [
        "could be played in a cafe",
        "would fit a travel vlog",
        "could be used in a feel-good commercial",
        "would suit a sunny afternoon playlist",
    ],
    "happy": [
        "could be played at a party",
        "would suit a workout playlist",
        "could be used in an upbeat advertisement",
        "would get people dancing at a celebration",
    ],
}
GENRE_USES = {
    "electronic": ["could be played in a nightclub", "would fit a DJ set at a festival"],
    "jazz": ["could be played in a jazz lounge", "would suit a dinner party"],
    "classical": ["could be played in a concert hall", "would fit a period drama"],
    "country": ["would suit a road trip through the countryside", "could be played at a barn dance"],
    "reggae": ["could be played at a beach party", "would suit a sunny day by the sea"],
    "latin": ["could be played at a dance party", "would suit a beach bar"],
    "hip hop": ["could be used as background music for a vlog", "would suit a lo-fi study session"],
    "metal": ["would suit an intense workout", "could be used in an extreme sports video"],
    "ambient": ["would be good for relaxation or sleep", "could be used in a meditation app"],
    "blues": ["could be played in a smoky blues bar", "would suit a late-night roadhouse"],
    "folk": ["could be played around a campfire", "would suit a pub session"],
    "rock": ["could be played at a stadium concert", "would suit a road trip"],
    "pop": ["could be played on the radio", "would fit a shopping mall playlist"],
}


@dataclass(frozen=True)
class Caption:
    text: str
    aspects: list[str]
    family: str


def _a(word: str) -> str:
    """'a piano', 'an organ'."""
    return ("an " if word[:1].lower() in "aeiou" and not word.lower().startswith(("uni", "eu", "one")) else "a ") + word


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class _Words:
    """The facts of one song as words, with synonyms drawn once so that a caption is consistent."""

    def __init__(self, song: Song, rng: np.random.Generator):
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        self.rng, self.pick, self.song = rng, pick, song
        self.genre = pick(GENRE_WORDS[song.genre])
        lead = song.part("lead")
        accs = [p for p in song.parts if p.role == "accompaniment"]
        bass = song.part("bass")
        self.lead = pick(INSTRUMENT_WORDS[lead.name])
        self.accs = [(pick(INSTRUMENT_WORDS[a.name]), a.style) for a in accs]
        self.bass = pick(BASS_WORDS[bass.name])
        self.bass_line = pick(BASS_STYLE[bass.style])
        self.tempo = pick(TEMPO_WORDS[song.tempo_class])
        moods = list(MOOD_WORDS[song.mood])
        if song.dynamics == "soft" and "aggressive" in moods:
            moods.remove("aggressive")
        i, j = rng.choice(len(moods), size=2, replace=False)
        self.mood1, self.mood2 = moods[int(i)], moods[int(j)]
        self.dyn = pick(DYNAMICS_WORDS[song.dynamics])
        self.melody_adj = pick(MELODY_ADJ[song.mood])
        self.use = pick(USES[song.mood] + GENRE_USES.get(song.genre, []))
        self.kit = pick(DRUM_KIT_WORDS[song.drum_kit]) if song.drums else None
        self.groove = pick(PATTERN_WORDS[song.drum_pattern]) if song.drums else None
        self.voices = any(p.name == "choir" for p in song.parts)
        self.solo = song.solo

    # --- phrases ---
    def acc_clause(self, k: int = 0) -> str:
        name, style = self.accs[k]
        return f"{_a(name)} {self.pick(ACC_STYLE[style][0])}"

    def tempo_phrase(self) -> str:
        if self.rng.random() < 0.35:
            return self.pick([f"at around {self.song.bpm} BPM", f"at {self.song.bpm} beats per minute", f"at roughly {self.song.bpm} BPM"])
        return self.pick([f"at a {self.tempo} tempo", f"with a {self.tempo} tempo", f"at a {self.tempo} pace"])

    def key_sentence(self) -> str:
        s = self.song
        key = f"{s.key} {s.mode}"
        return self.pick(
            [
                f"The piece is in {key}.",
                f"It is written in the key of {key}.",
                f"The song is in a {s.mode} key.",
                f"The harmony stays in {key}.",
                f"It is in {key}.",
            ]
        )

    def drums_sentence(self) -> str:
        if not self.song.drums:
            return self.pick(
                [
                    "There is no percussion.",
                    "There are no drums in this piece.",
                    "No drums are present.",
                    "The track has no percussion at all.",
                    "It is played without any drums.",
                ]
            )
        verb = "keeps" if self.kit.startswith(("a ", "an ")) else "keep"
        return self.pick(
            [
                f"The rhythm is provided by {self.kit} playing {self.groove}.",
                f"{_cap(self.kit)} {verb} time with {self.groove}.",
                f"The drums lay down {self.groove}.",
                f"The beat comes from {self.kit} playing {self.groove}.",
            ]
        )

    def instrumental_sentence(self) -> str | None:
        if self.voices:
            return "The voices sing without words." if self.rng.random() < 0.5 else None
        return self.pick(
            ["This is an instrumental piece.", "There are no vocals.", "There are no voices in this song.", "It is purely instrumental."]
        )

    def use_sentence(self, subject: str = "This song") -> str:
        return f"{subject} {self.use}."

    def mood_sentence(self) -> str:
        return self.pick(
            [
                f"The mood is {self.mood1} and {self.mood2}.",
                f"It sounds {self.mood1}.",
                f"The atmosphere is {self.mood1}.",
                f"Overall it feels {self.mood1} and {self.mood2}.",
                f"The song has {_a(self.mood1)} feel.",
            ]
        )

    def dyn_sentence(self) -> str:
        return self.pick(
            [
                f"It is played {('softly' if self.song.dynamics == 'soft' else 'loudly')}.",
                f"The overall sound is {self.dyn}.",
                f"The performance is {self.dyn}.",
            ]
        )

    def lead_sentence(self) -> str:
        return self.pick(
            [
                f"{_cap(_a(self.lead))} plays the {self.melody_adj} melody.",
                f"The main melody is played by {_a(self.lead)}.",
                f"{_cap(_a(self.lead))} carries {_a(self.melody_adj)} melody.",
                f"The lead is {_a(self.lead)} playing {_a(self.melody_adj)} tune.",
            ]
        )

    def accomp_sentence(self) -> str:
        parts = [self.acc_clause(k) for k in range(len(self.accs))]
        core = " while ".join(parts) if len(parts) == 2 else parts[0]
        return _cap(core) + "."

    def bass_sentence(self) -> str:
        return self.pick(
            [
                f"{_cap(_a(self.bass))} plays {self.bass_line}.",
                f"The bass line is played by {_a(self.bass)}.",
                f"{_cap(_a(self.bass))} holds down the low end with {self.bass_line}.",
                f"Underneath, {_a(self.bass)} plays {self.bass_line}.",
            ]
        )

    def solo_sentence(self) -> str:
        return self.pick(
            [
                f"This is a solo {self.lead} piece.",
                f"A solo {self.lead} plays both the melody and the accompaniment.",
                f"It is performed on a single {self.lead}, melody and accompaniment together.",
            ]
        )

    def support_sentence(self) -> str:
        """Accompaniment and bass in one sentence."""
        accs = " and ".join(self.acc_clause(k) for k in range(len(self.accs)))
        return _cap(f"{accs}, {self.pick(['while', 'and'])} {_a(self.bass)} plays {self.bass_line}.")

    def arrangement(self) -> list[str]:
        """Lead and accompaniment/bass sentences (or one solo sentence)."""
        if self.solo:
            return [self.solo_sentence()]
        return [self.lead_sentence(), self.support_sentence()]


def _optional(rng: np.random.Generator, p: float, sentence: str | None) -> list[str]:
    return [sentence] if sentence and rng.random() < p else []


# --- template families: each returns a list of sentences -----------------------------------


def _f00(w: _Words) -> list[str]:  # "This is a ... piece."
    s = [f"This is {_a(w.genre)} piece {w.tempo_phrase()}."] + w.arrangement() + [w.drums_sentence()]
    if w.rng.random() < 0.6:
        return s + [f"It sounds {w.mood1}, and this piece {w.use}."]
    return s + [w.mood_sentence()]


def _f01(w: _Words) -> list[str]:  # "This ... song features ..."
    if w.solo:
        first = f"This {w.genre} song features a solo {w.lead}."
    else:
        first = f"This {w.genre} song features {_a(w.lead)} playing {_a(w.melody_adj)} melody."
    rest = (
        []
        if w.solo
        else [
            f"This is accompanied by {_a(w.accs[0][0])} that {w.pick(ACC_STYLE[w.accs[0][1]][0])} and {_a(w.bass)} playing {w.bass_line}."
        ]
    )
    s = [first] + rest + [w.drums_sentence(), f"The tempo is {w.tempo} and the mood of this song is {w.mood1}."]
    return s + _optional(w.rng, 0.7, w.use_sentence("This song"))


def _f02(w: _Words) -> list[str]:  # tempo and mood first
    s = [
        f"The song is {_a(w.song.tempo_class)}-tempo {w.genre} instrumental."
        if w.rng.random() < 0.5
        else f"A {w.tempo}, {w.mood1} {w.genre} track."
    ]
    s += w.arrangement()[:2] + [w.drums_sentence()] + _optional(w.rng, 0.4, w.key_sentence())
    return s


def _f03(w: _Words) -> list[str]:  # one long listing sentence
    if w.solo:
        inst = f"a solo {w.lead}"
    else:
        inst = f"{_a(w.lead)} melody, {', '.join(_a(a) for a, _ in w.accs)} and {_a(w.bass)}"
    drums = f", driven by {w.kit}" if w.song.drums else ", without drums"
    s = [
        f"{_cap(_a(w.mood1))} {w.genre} instrumental with {inst}{drums}.",
        f"The tempo is {w.tempo} ({w.song.bpm} BPM)." if w.rng.random() < 0.4 else f"It moves {w.tempo_phrase()}.",
    ]
    return s + _optional(w.rng, 0.5, w.key_sentence()) + [w.use_sentence("It")]


def _f04(w: _Words) -> list[str]:  # "In this ... you can hear ..."
    if w.solo:
        s = [f"In this {w.genre} recording you can hear a solo {w.lead}."]
    else:
        s = [
            f"In this {w.genre} track you can hear {_a(w.lead)} playing the melody.",
            f"In the background, {w.acc_clause(0)}{' and ' + w.acc_clause(1) if len(w.accs) > 1 else ''}, "
            f"and {_a(w.bass)} plays {w.bass_line}.",
        ]
    s += [w.drums_sentence() if w.song.drums else "You can't hear any drums.", f"The song is {w.mood1} and {w.dyn}."]
    return s


def _f05(w: _Words) -> list[str]:  # mood first
    s = [f"{_cap(w.mood1)} and {w.mood2}, this {w.tempo} {w.genre} piece is led by {_a(w.lead)}."]
    if not w.solo:
        s += [w.accomp_sentence(), w.bass_sentence()] if w.rng.random() < 0.5 else [w.support_sentence()]
    s += [w.drums_sentence()] + _optional(w.rng, 0.5, w.dyn_sentence())
    return s[:5]


def _f06(w: _Words) -> list[str]:  # "This audio contains ..."
    s = [f"This audio contains {_a(w.genre)} instrumental {w.tempo_phrase()}."]
    s += [f"{_cap(_a(w.lead))} plays the lead melody{'' if w.solo else ' over ' + _a(w.accs[0][0])}."]
    if not w.solo:
        s += [f"The {w.bass} provides the bass."]
    s += [w.drums_sentence()] + _optional(w.rng, 0.6, w.instrumental_sentence()) + [w.use_sentence("This music")]
    return s[:5]


def _f07(w: _Words) -> list[str]:  # roles in one sentence
    if w.solo:
        s = [f"The melody and the chords are both played on {_a(w.lead)}."]
    else:
        s = [f"The melody is played by {_a(w.lead)} while {_a(w.accs[0][0])} provides the harmony and {_a(w.bass)} plays the bass."]
    s += [f"It is {_a(w.genre)} piece {w.tempo_phrase()}.", w.drums_sentence(), w.mood_sentence()]
    return s + _optional(w.rng, 0.3, w.key_sentence())


def _f08(w: _Words) -> list[str]:  # terse
    drums = f"with {w.kit}" if w.song.drums else "with no drums"
    return [f"{_cap(_a(w.tempo))} {w.genre} tune on {w.lead}, {drums}.", f"It sounds {w.mood1} and {w.dyn}."]


# Held-out families (test split only): different sentence plans and framings.


def _f09(w: _Words) -> list[str]:  # participle-first
    s = [
        f"Performed on {_a(w.lead)}{'' if w.solo else ' over ' + _a(w.accs[0][0]) + ' and ' + _a(w.bass)}, "
        f"this {w.genre} number is {w.mood1}."
    ]
    s += [f"Its tempo is {w.tempo}, around {w.song.bpm} BPM." if w.rng.random() < 0.5 else f"The pace is {w.tempo}."]
    s += [w.drums_sentence(), f"Someone might play it when they want something {w.mood2}."]
    return s


def _f10(w: _Words) -> list[str]:  # listener's point of view
    s = [f"What you hear is {_a(w.dyn)} {w.genre} instrumental."]
    if w.solo:
        s += [f"A lone {w.lead} does all the work."]
    else:
        s += [f"Up front there is {_a(w.lead)}; behind it, {w.acc_clause(0)}.", f"The low end belongs to {_a(w.bass)}."]
    s += [
        "Percussion: none." if not w.song.drums else f"Percussion comes from {w.kit}.",
        f"Mood-wise it is {w.mood1}, in {w.song.key} {w.song.mode}.",
    ]
    return s


def _f11(w: _Words) -> list[str]:  # use first
    s = [f"Picture this {w.genre} instrumental in a scene: it {w.use}."]
    s += [
        f"It is built around {_a(w.lead)}{', with ' + _a(w.accs[0][0]) + ' and ' + _a(w.bass) + ' underneath' if not w.solo else ''}.",
        f"The pace is {w.tempo}{'' if w.song.drums else ' and there are no drums'}.",
        f"The feeling is {w.mood1}.",
    ]
    return s


_FAMILY_FUNCS = {
    "F00": _f00,
    "F01": _f01,
    "F02": _f02,
    "F03": _f03,
    "F04": _f04,
    "F05": _f05,
    "F06": _f06,
    "F07": _f07,
    "F08": _f08,
    "F09": _f09,
    "F10": _f10,
    "F11": _f11,
}


def choose_family(split: str, rng: np.random.Generator) -> str:
    """A template family for a clip: held-out families only (and half the time) in the test split."""
    if split == "test" and rng.random() < HELDOUT_SHARE:
        return HELDOUT_FAMILIES[int(rng.integers(len(HELDOUT_FAMILIES)))]
    return TRAIN_FAMILIES[int(rng.integers(len(TRAIN_FAMILIES)))]


def aspects(song: Song, w: _Words) -> list[str]:
    """A MusicCaps-style aspect list: genre, instruments with roles, drums, tempo, mood, ..."""
    rng = w.rng
    items = [w.genre]
    lead_canon = INSTRUMENT_WORDS[song.part("lead").name][0]
    items.append(f"{w.melody_adj} {lead_canon} melody" if rng.random() < 0.6 else lead_canon)
    if not song.solo:
        for (name, style), part in zip(w.accs, [p for p in song.parts if p.role == "accompaniment"]):
            canon = INSTRUMENT_WORDS[part.name][0]
            items.append(f"{canon} {ACC_STYLE[style][1]}" if rng.random() < 0.6 else canon)
        items.append(BASS_WORDS[song.part("bass").name][0] if rng.random() < 0.5 else "bass")
    else:
        items.append(f"solo {lead_canon}")
    if song.drums:
        items.append(DRUM_KIT_WORDS[song.drum_kit][0] if rng.random() < 0.7 else "drums")
    else:
        items.append(w.pick(["no percussion", "no drums"]))
    items.append(f"{TEMPO_WORDS[song.tempo_class][0]} tempo")
    items += [w.mood1] + ([w.mood2] if rng.random() < 0.5 else [])
    items += _optional(rng, 0.5, song.dynamics)
    items += _optional(rng, 0.3, f"{song.mode} key")
    if not w.voices:
        items += _optional(rng, 0.6, w.pick(["instrumental", "no voices", "no vocals"]))
    head, tail = items[:1], items[1:]
    order = rng.permutation(len(tail))
    return head + [tail[int(i)] for i in order] if rng.random() < 0.5 else [items[0]] + tail


def make_caption(song: Song, split: str, rng: np.random.Generator, family: str | None = None) -> Caption:
    """Caption + aspect list for a song; the family is drawn per split unless given."""
    family = family or choose_family(split, rng)
    if family not in _FAMILY_FUNCS:
        raise ValueError(f"unknown template family {family!r}")
    w = _Words(song, rng)
    sentences = _FAMILY_FUNCS[family](w)
    # Optional extras where the family left room (2-5 sentences in all).
    extras = [
        x
        for x in (w.instrumental_sentence() if family not in ("F06", "F08") else None, w.key_sentence() if rng.random() < 0.2 else None)
        if x
    ]
    for extra in extras:
        if len(sentences) < 5 and rng.random() < 0.4 and extra not in sentences:
            sentences.insert(int(rng.integers(1, len(sentences) + 1)), extra)
    text = " ".join(s.strip() for s in sentences if s)
    return Caption(text, aspects(song, w), family)
