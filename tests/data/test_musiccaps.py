import collections

import pytest

from text2music import BUNDLED_MUSICCAPS_CSV
from text2music.data.musiccaps import COLUMNS, Clip, read_clips, select_clips, write_clips

HEADER = ",".join(COLUMNS)


def test_reads_the_real_musiccaps_csv():
    clips = read_clips(BUNDLED_MUSICCAPS_CSV)
    assert len(clips) == 5521
    assert len({c.ytid for c in clips}) == 5521
    assert all(c.duration == 10.0 for c in clips)
    assert sum(c.is_balanced_subset for c in clips) == 1000
    assert sum(c.is_audioset_eval for c in clips) == 2858
    splits = collections.Counter(c.split for c in clips)
    assert splits["test"] == 2858 and splits["train"] > 8 * splits["valid"] > 0
    first = clips[0]
    assert first.ytid == "-0Gj8-vB1q4" and first.start_s == 30 and "mellow piano melody" in first.aspects
    assert any("\n" in c.caption for c in clips)  # multi-line captions survive


def test_round_trip_keeps_rows(tmp_path):
    clips = read_clips(BUNDLED_MUSICCAPS_CSV)[:50]
    write_clips(tmp_path / "m.csv", clips)
    again = read_clips(tmp_path / "m.csv")
    assert again == clips


def _csv(tmp_path, *rows, header=HEADER):
    path = tmp_path / "bad.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "row,match",
    [
        ("a,0,10,,\"['x']\",cap,0,False,False\nb,5,2,,\"['x']\",cap,0,False,False", r"line 3, field 'start_s/end_s'"),
        ("a,0,10,,not a list,cap,0,False,False", r"line 2, field 'aspect_list'"),
        ("a,0,10,,\"['x']\",,0,False,False", r"line 2, field 'caption'"),
        ("a,0,10,,\"['x']\",cap,0,maybe,False", r"line 2, field 'is_balanced_subset'"),
        ("a,zero,10,,\"['x']\",cap,0,False,False", r"line 2, field 'start_s/end_s'"),
        ("a,0,10,,\"['x']\",cap,0,False,False\na,0,10,,\"['x']\",cap,0,False,False", r"line 3, field 'ytid'.*duplicate"),
    ],
)
def test_bad_rows_name_line_and_field(tmp_path, row, match):
    with pytest.raises(ValueError, match=match) as e:
        read_clips(_csv(tmp_path, row))
    assert "bad.csv" in str(e.value)


def test_schema_checked_up_front(tmp_path):
    with pytest.raises(ValueError, match=r"missing columns \['caption'\]"):
        read_clips(_csv(tmp_path, "a,0,10,,[],0,False,False", header=HEADER.replace(",caption", "")))
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        read_clips(tmp_path / "nothing.csv")


def test_select():
    clips = read_clips(BUNDLED_MUSICCAPS_CSV)
    assert len(select_clips(clips, subset="balanced")) == 1000
    assert all(c.split == "test" for c in select_clips(clips, split="test", limit=5))
    with pytest.raises(ValueError, match="limit"):
        select_clips(clips, limit=0)
    assert isinstance(clips[0], Clip) and clips[0].aspect_text.startswith("low quality, ")
