"""A new setting is one GenerationSettings field: every front end offers it, with its limits and
help, and GenerationSettings checks it (the CLI's generate and evaluate flags, the HTTP request
body, /api/info, hence the web page's limits, and evaluate's configuration)."""

from __future__ import annotations

import dataclasses

import pytest

import text2music.generate.settings as settings_module
import text2music.serve.app  # noqa: F401 (built before any test adds a field)
from text2music.generate.settings import GenerationSettings, SettingsError, setting, setting_fields

WOBBLE = ("wobble", float, setting(0.25, "how much the pitch wobbles", "sampling", limits=(0.0, 1.0)))


@pytest.fixture
def with_wobble(monkeypatch):
    """GenerationSettings with one more field, `wobble`, as a developer would add it."""
    cls = dataclasses.make_dataclass("GenerationSettings", [WOBBLE], bases=(GenerationSettings,), frozen=True)
    monkeypatch.setattr(settings_module, "GenerationSettings", cls)
    return cls


def test_the_new_field_is_checked_from_its_description(with_wobble):
    assert with_wobble().wobble == 0.25
    with pytest.raises(SettingsError, match=r"wobble must be between 0 and 1, got 2") as err:
        with_wobble(wobble=2.0)
    assert err.value.field == "wobble"
    with pytest.raises(SettingsError, match="wobble must be a number"):
        with_wobble(wobble="lots")


def test_the_command_line_offers_it_on_generate_and_evaluate(with_wobble):
    from text2music.cli import build_parser, settings_from_args

    parser = build_parser()
    generate = parser.parse_args(["generate", "x", "--wobble", "0.5"])
    assert settings_from_args(generate) == with_wobble(wobble=0.5)
    evaluate = parser.parse_args(["evaluate", "--model", "default", "--out", "r", "--wobble", "0.75"])
    assert settings_from_args(evaluate, with_wobble(normalize=False)).wobble == 0.75
    help_text = parser._subparsers._group_actions[0].choices["generate"].format_help()
    assert "--wobble" in help_text and "how much the pitch wobbles, 0 to 1" in help_text


def test_the_http_body_and_api_info_offer_it(with_wobble):
    from text2music.serve.app import InvalidSettings, api_info, request_model

    body_class = request_model(with_wobble)
    body = body_class(text="a calm piano piece", wobble=0.5)
    assert body.settings() == with_wobble(wobble=0.5)
    schema = body_class.model_json_schema()["properties"]["wobble"]
    assert (schema["minimum"], schema["maximum"], schema["default"]) == (0.0, 1.0, 0.25)
    with pytest.raises(InvalidSettings, match="wobble: must be between 0 and 1") as err:
        body_class(text="a calm piano piece", wobble=3.0).settings()
    assert err.value.field == "wobble"

    class Pipeline:  # what api_info reads of a loaded model
        sample_rate, config, controllable, vocoder, adapter, precision, path = 16000, {}, False, None, None, "float32", None

    info = api_info(Pipeline(), with_wobble)
    assert info["limits"]["wobble"] == [0.0, 1.0] and info["defaults"]["wobble"] == 0.25
    assert info["help"]["wobble"] == "how much the pitch wobbles"


def test_every_front_end_uses_the_settings_fields_not_a_copy():
    """The groups say which front end offers a field; no field is left out by accident."""
    every = {f.name for f in setting_fields()}
    assert every == {f.name for f in dataclasses.fields(GenerationSettings)}
    from text2music.serve.app import HTTP_GROUPS, GenerateBody

    assert set(GenerateBody.model_fields) - {"text", "init_audio"} == {f.name for f in setting_fields(groups=HTTP_GROUPS)}
    assert every <= set(GenerateBody.model_fields)  # every setting is offered over HTTP (the audio itself: init_audio)
