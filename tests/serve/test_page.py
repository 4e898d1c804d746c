"""The page in a real browser (Chromium driven by Playwright) against a real uvicorn on loopback:
limits shown, a bad setting and a full queue reported inline, progress while it works, then a
playable WAV of the asked duration, its spectrogram and a download link, newest result first.

Skips only when no Chromium is installed (`bash scripts/install_browser.sh` installs Debian's).
The screenshot goes to pytest's tmp dir; with T2M_SAVE_SCREENSHOT=1 also to
reports/screenshots/serve-page.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.serve.conftest import BlockingPipeline
from text2music.generate.sampling import SAMPLERS
from text2music.generate.settings import SAMPLE_RATES, GenerationSettings

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "reports" / "screenshots" / "serve-page.png"
PROMPT = "a calm solo piano piece in A minor at 70 BPM"


def find_chromium() -> str | None:
    """T2M_CHROMIUM, else a system Chromium/Chrome, else None (Playwright's own download is tried by the caller)."""
    if os.environ.get("T2M_CHROMIUM"):
        return os.environ["T2M_CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (bash scripts/install_browser.sh)")
    executable = find_chromium()
    with sync_api.sync_playwright() as p:
        if executable is None and not Path(p.chromium.executable_path).is_file():
            pytest.skip("no Chromium installed (bash scripts/install_browser.sh installs Debian's chromium)")
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


CHECK_AUDIO = """async (src) => {
  const buf = await (await fetch(src)).arrayBuffer();
  const head = new TextDecoder("ascii").decode(new Uint8Array(buf, 0, 16));
  const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(buf.slice(0));
  return {head, bytes: buf.byteLength, duration: decoded.duration, sampleRate: decoded.sampleRate};
}"""


@pytest.mark.slow
def test_page_generates_a_playable_clip(browser, tiny_pipeline, make_app, live_server, tmp_path):
    pipe = BlockingPipeline(tiny_pipeline)
    url = live_server(make_app(pipe, workers=1, max_queue=0))  # one running job fills the server: 429 on cue
    page = browser.new_page(viewport={"width": 1100, "height": 900}, color_scheme="light")
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    expected = ("status of 422", "status of 429")  # the browser logs the answers this test provokes
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not any(e in m.text for e in expected) else None)
    page.goto(url + "/")

    # limits and examples come from /api/info
    page.wait_for_selector(".chip")
    assert page.inner_text("[data-limit=duration]") == "(1–300 s)"
    assert page.inner_text("[data-limit=steps]") == "(1–100)"
    assert page.locator(".chip").count() >= 3
    assert page.eval_on_selector_all("#sampler option", "os => os.map(o => o.value)") == list(SAMPLERS)
    assert page.input_value("#sampler") == GenerationSettings().sampler
    assert page.eval_on_selector_all("#sample_rate option", "os => os.map(o => o.value)") == ["", *map(str, SAMPLE_RATES)]
    assert page.input_value("#sample_rate") == ""  # the model's own

    # a model without musical controls: those fields are off, with a hint; a loop needs none
    assert page.is_visible("#musical-hint") and "without musical controls" in page.inner_text("#musical-hint")
    for name in CONTROL_IDS:
        assert page.is_disabled("#" + name), name
        assert page.get_attribute("#" + name, "aria-describedby") == "musical-hint"
    assert page.is_enabled("#loop")
    assert page.input_value("#reverb") == "" and page.get_attribute("#reverb", "placeholder") == "model's own"

    # a bad setting: the server's 422 message inline, nothing submitted
    page.fill("#text", PROMPT)
    page.fill("#duration", "500")
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert "duration" in page.inner_text("#error") and "300" in page.inner_text("#error")
    assert page.get_attribute("#duration", "aria-invalid") == "true"
    assert page.locator(".result").count() == 0

    # generate 2 s: progress is visible while it works
    page.fill("#duration", "2")
    page.fill("#steps", "4")
    page.click("#generate")
    page.wait_for_selector(".result.running .progress", state="visible")
    assert page.is_hidden("#error")
    assert "Generating" in page.inner_text(".result .result-status")

    # the server is full: "busy, retry in N s" inline
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert "busy" in page.inner_text("#error") and "retry in" in page.inner_text("#error")

    pipe.release.set()
    page.wait_for_selector(".result.done audio[src]", timeout=60_000)
    src = page.get_attribute(".result.done audio", "src")
    assert page.get_attribute(".result.done a.download", "href") == src
    wav = page.evaluate(CHECK_AUDIO, src)
    assert wav["head"][:4] == "RIFF" and wav["head"][8:12] == "WAVE"
    assert wav["bytes"] == 44 + 2 * 2 * tiny_pipeline.sample_rate  # 16-bit mono PCM: header + 2 s of samples
    assert abs(wav["duration"] - 2.0) < 0.01
    page.wait_for_function("() => { const a = document.querySelector('.result.done audio'); return a.readyState >= 1; }")
    assert abs(page.evaluate("document.querySelector('.result.done audio').duration") - 2.0) < 0.05
    page.wait_for_function(
        "() => { const i = document.querySelector('.result.done img.spectrogram'); return i.complete && i.naturalWidth > 0; }"
    )
    assert page.evaluate("document.querySelector('.result.done img.spectrogram').naturalWidth") >= 500

    # a second clip from an example chip: newest first, both kept
    page.locator(".chip").nth(1).click()
    example = page.input_value("#text")
    page.select_option("#sample_rate", "32000")
    page.check("#stereo")
    page.fill("#reverb", "0.5")
    page.click("#generate")
    page.wait_for_function("() => document.querySelectorAll('.result.done audio[src]').length === 2", timeout=60_000)
    assert page.inner_text(".result:first-child .result-text") == example
    assert page.evaluate(CHECK_AUDIO, page.get_attribute(".result:first-child audio", "src"))["bytes"] == 44 + 2 * 2 * 2 * 32000  # stereo
    assert "32 kHz · stereo · reverb 0.5" in page.inner_text(".result:first-child .result-settings")
    assert page.inner_text(".result:last-child .result-text") == PROMPT
    assert "2 s · 4 steps" in page.inner_text(".result:last-child .result-settings")
    page.wait_for_function("() => [...document.querySelectorAll('img.spectrogram')].every(i => i.complete && i.naturalWidth > 0)")

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("T2M_SAVE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    assert "Made with: none set (the model's own choice) · 2 s" in page.inner_text(".result:last-child .result-controls")
    assert not errors, errors
    page.close()


CONTROL_IDS = ["bpm", "key", "meter", "drums", "bars", "text_controls"]
LABELS = {"bpm": "BPM", "key": "Key", "meter": "Meter", "drums": "Drums", "bars": "Bars", "loop": "Loop", "text_controls": "Follow the"}


@pytest.mark.slow
def test_page_sends_musical_controls_and_shows_what_the_clip_was_made_with(browser, tiny_control_pipeline, make_app, live_server, tmp_path):
    url = live_server(make_app(tiny_control_pipeline, workers=1, max_queue=2))
    page = browser.new_page(viewport={"width": 1100, "height": 900}, color_scheme="light")
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 422" not in m.text else None)
    page.goto(url + "/")
    page.wait_for_selector(".chip")

    # every control is enabled, labelled, and reads its choices from /api/info
    assert page.is_hidden("#musical-hint")
    for name, label in LABELS.items():
        assert page.is_enabled("#" + name), name
        assert page.get_by_label(label, exact=False).first.get_attribute("id") == name, name
    keys = page.eval_on_selector_all("#key option", "os => os.map(o => o.value)")
    assert keys[0] == "" and len(keys) == 25 and "F# minor" in keys and "Bb major" in keys
    assert page.inner_text("[data-limit=bpm]") == "(40–240)" and page.inner_text("[data-limit=bars]") == "(1–64)"
    assert page.get_attribute("#bpm", "placeholder") == "from the text"
    page.uncheck("#text_controls")
    assert page.get_attribute("#bpm", "placeholder") == "model's choice" and page.inner_text("#meter option") == "model's choice"
    page.check("#text_controls")

    # bars out of the duration limits: the server's message inline, the field marked
    page.fill("#text", "a waltz in D minor at 92 BPM")
    page.fill("#steps", "1")
    page.fill("#bpm", "240")
    assert page.is_enabled("#duration")
    page.fill("#bars", "1")
    assert page.is_disabled("#duration") and page.is_disabled("#duration-range")  # bars decide the length
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert "bars:" in page.inner_text("#error") and "1-300 s" in page.inner_text("#error")
    assert page.get_attribute("#bars", "aria-invalid") == "true"

    # 2 bars at 120 BPM; the waltz's 3/4 comes from the text, the key set overrides the text's
    page.fill("#bpm", "120")
    page.fill("#bars", "2")
    page.select_option("#key", "F# minor")
    page.select_option("#drums", "off")
    page.check("#loop")
    page.click("#generate")
    page.wait_for_selector(".result.done audio[src]", timeout=60_000)
    assert page.is_hidden("#error") and page.get_attribute("#bars", "aria-invalid") is None
    assert page.inner_text(".result .result-controls") == "Made with: 120 BPM · F# minor · 3/4 · no drums · 3 s"
    notes = page.inner_text(".result .result-notes")
    assert 'the text says "at 92 BPM" but bpm 120 was set' in notes and "but key F# minor was set" in notes
    assert "2 bars · 1 steps" in page.inner_text(".result .result-settings")
    assert "120 BPM · F# minor · drums off · loop" in page.inner_text(".result .result-settings")
    wav = page.evaluate(CHECK_AUDIO, page.get_attribute(".result.done audio", "src"))
    assert abs(wav["duration"] - 3.0) < 0.01  # 2 bars x 3 beats x 60 / 120 BPM

    # Defaults clears them; "Use these settings" brings them back
    page.click("#reset")
    assert page.input_value("#bpm") == "" and page.input_value("#key") == "" and not page.is_checked("#loop")
    assert page.is_enabled("#duration")
    page.click(".result .reuse")
    assert page.is_disabled("#duration")
    assert (page.input_value("#bpm"), page.input_value("#key"), page.input_value("#bars")) == ("120", "F# minor", "2")
    assert page.input_value("#drums") == "off" and page.input_value("#meter") == "" and page.is_checked("#loop")
    page.screenshot(path=str(tmp_path / "controls.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_page_uploads_a_clip_and_continues_it(browser, tiny_pipeline, make_app, live_server, tmp_path):
    """Pick a file, choose "continue": the result starts with the file and lasts the duration;
    a span outside the file is the server's 422, inline, with the span marked."""
    import numpy as np
    import soundfile as sf

    sr = tiny_pipeline.sample_rate
    t = np.arange(2 * sr) / sr
    take = tmp_path / "take.wav"
    sf.write(take, (0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-4 * (t % 0.5))).astype(np.float32), sr)
    url = live_server(make_app(tiny_pipeline))
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url + "/")
    page.wait_for_selector(".chip")
    assert page.is_disabled("#init_mode") and page.is_hidden("#span-start")
    page.set_input_files("#init-file", str(take))
    assert page.is_enabled("#init_mode") and page.input_value("#init_mode") == "continue"

    page.fill("#text", PROMPT)
    page.select_option("#init_mode", "inpaint")
    assert page.is_visible("#span-start")
    page.fill("#span-start", "1.5")
    page.fill("#span-end", "3")
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert "span:" in page.inner_text("#error") and "ends after" in page.inner_text("#error")
    assert page.get_attribute("#span-start", "aria-invalid") == "true"

    page.select_option("#init_mode", "continue")
    page.fill("#duration", "3")
    page.fill("#steps", "2")
    page.click("#generate")
    page.wait_for_selector(".result.done audio[src]", timeout=60_000)
    wav = page.evaluate(CHECK_AUDIO, page.get_attribute(".result.done audio", "src"))
    assert abs(wav["duration"] - 3.0) < 0.01
