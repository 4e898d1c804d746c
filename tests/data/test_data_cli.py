"""Bad input to a `data` command is one line (exit 2), found before any folder is made."""

import pytest

from text2music.cli import main


@pytest.mark.parametrize(
    "argv,says",
    [
        (["musiccaps", "--out", "{out}", "--url-template", "http://x/"], "--url-template must contain '{ytid}'"),
        (["musiccaps", "--out", "{out}", "--csv", "{tmp}/none.csv"], "none.csv"),
        (["synth", "--out", "{out}", "--duration", "0.5"], "duration must be between 1 and 30"),
        (["import", "{tmp}/none", "--out", "{out}"], "none: no such file or folder"),
        (["debian", "--out", "{out}", "--packages", "nosuchpkg"], "nosuchpkg"),
        (["preprocess", "{out}"], "metadata.csv"),
    ],
)
def test_bad_input_is_one_line_and_makes_no_folder(tmp_path, capsys, argv, says):
    out = tmp_path / "new" / "data"
    assert main(["data", *(a.format(out=out, tmp=tmp_path) if "{" in a and "ytid" not in a else a for a in argv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("text2music: error: ") and says in err and err.count("\n") == 1
    assert not (tmp_path / "new").exists()
