import pytest

from text2music.data.synth import render


@pytest.fixture(scope="session", autouse=True)
def bundled_soundfont_only():
    """Tests render with pretty_midi's TimGM6mb whatever soundfonts the machine has installed, so
    their measured thresholds hold everywhere (FluidR3_GM, when installed, is the default for
    users; its discovery is tested on its own)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "SYSTEM_SOUNDFONTS", ())
        yield
