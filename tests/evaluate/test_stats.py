import numpy as np

from text2music.evaluate.stats import paired_interval


def test_paired_interval_brackets_the_mean_difference_and_narrows_with_more_clips():
    rng = np.random.default_rng(1)
    few, many = rng.normal(0.3, 1.0, 40), rng.normal(0.3, 1.0, 4000)
    lo, hi = paired_interval(many)
    assert lo < 0.3 < hi and hi - lo < 0.1
    lo_few, hi_few = paired_interval(few)
    assert hi_few - lo_few > hi - lo
    assert paired_interval(np.zeros(30)) == [0.0, 0.0]
