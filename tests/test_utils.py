import json

import pytest

from text2music.utils import append_jsonl, atomic_path, read_jsonl, record_settings


def test_torn_jsonl_line_is_skipped_and_appends_continue(tmp_path):
    path = tmp_path / "m.jsonl"
    append_jsonl(path, {"a": 1})
    with open(path, "a") as f:
        f.write('{"a": 2, "tor')  # a writer killed mid-line
    assert read_jsonl(path) == [{"a": 1}]
    append_jsonl(path, {"a": 3})
    append_jsonl(path, {"a": 4})
    assert read_jsonl(path) == [{"a": 1}, {"a": 3}, {"a": 4}]


def test_corrupt_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{"a": }\n{"a": 2}\n')
    with pytest.raises(ValueError, match=r"m.jsonl, line 2"):
        read_jsonl(path)


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new, half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == "0o644"


def test_a_setting_added_since_a_run_began_counts_as_its_default_when_it_resumes(tmp_path):
    path = tmp_path / "train_config.json"
    record_settings(path, {"lr": 1.0}, "a run")  # made before "size" existed
    record_settings(path, {"lr": 1.0, "size": "small"}, "a run", defaults={"size": "small"})
    assert json.loads(path.read_text()) == {"lr": 1.0, "size": "small"}
    path.write_text(json.dumps({"lr": 1.0}))
    with pytest.raises(ValueError, match=r"other settings \(size: 'small' there, 'full' now\)"):
        record_settings(path, {"lr": 1.0, "size": "full"}, "a run", defaults={"size": "small"})


def test_a_setting_left_out_to_keep_an_old_file_counts_as_its_default(tmp_path):
    """A caller leaves a setting out where it has its default, so the file stays as older code wrote
    it; a folder made with another value still refuses to resume without it."""
    path = tmp_path / "corpus.json"
    record_settings(path, {"n": 4, "drum_prob": 0.0}, "a corpus", defaults={"drum_prob": None})
    with pytest.raises(ValueError, match=r"drum_prob: 0.0 there, None now"):
        record_settings(path, {"n": 4}, "a corpus", defaults={"drum_prob": None})
    path.unlink()
    record_settings(path, {"n": 4}, "a corpus", defaults={"drum_prob": None})
    record_settings(path, {"n": 4}, "a corpus", defaults={"drum_prob": None})
    assert json.loads(path.read_text()) == {"n": 4}
