import text2music


def test_every_api_name_resolves():
    for name in text2music.__all__:
        assert getattr(text2music, name) is not None, name


def test_api_mirrors_cli_commands():
    from text2music.data.download import download_musiccaps
    from text2music.data.synth import build_corpus

    assert text2music.download_musiccaps is download_musiccaps
    assert text2music.build_corpus is build_corpus
    assert text2music.get_preset("seed").n_mels == 256
