"""SI-5, LOSO and the leaky random split."""
import numpy as np
import pandas as pd
import pytest

from emolib.data import splits
from emolib.data.emodb import SPEAKERS


def _speakers(n_per_speaker=3):
    return np.repeat(sorted(SPEAKERS), n_per_speaker)


@pytest.mark.parametrize("protocol, n_folds", [("si5", 5), ("loso", 10)])
def test_no_speaker_on_both_sides_and_each_row_tested_once(protocol, n_folds):
    speakers = _speakers()
    folds = splits.speaker_folds(speakers, protocol)
    assert len(folds) == n_folds
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(speakers)))
    for f in folds:
        assert not set(speakers[f.train]) & set(speakers[f.test])
        assert len(f.train) + len(f.test) == len(speakers)
        assert set(speakers[f.test]) == set(f.test_speakers)


def test_si5_holds_out_the_documented_pairs_in_order_one_male_one_female():
    folds = splits.speaker_folds(_speakers(), "si5")
    assert [set(f.test_speakers) for f in folds] == [set(p) for p in splits.SI5_FOLDS]
    for f in folds:
        assert sorted(SPEAKERS[s].gender for s in f.test_speakers) == ["f", "m"]


def test_folds_follow_speakers_not_row_order():
    speakers = np.random.default_rng(0).permutation(_speakers(4))
    for f in splits.speaker_folds(speakers, "si5"):
        assert set(speakers[f.test]) == set(splits.SI5_FOLDS[f.index])


def test_accepts_the_metadata_table_and_summarises_it():
    meta = pd.DataFrame({"speaker": _speakers(2), "gender": [SPEAKERS[s].gender for s in _speakers(2)]})
    assert [len(f.test) for f in splits.speaker_folds(meta)] == [4] * 5
    table = splits.folds_table(meta)
    assert table.loc[0, "test speakers"] == "03 (m), 08 (f)"
    assert (table["train speakers"] == 8).all()


def test_unknown_speakers_and_protocols_are_refused():
    with pytest.raises(ValueError, match="99"):
        splits.speaker_folds(["03", "99"], "si5")
    with pytest.raises(ValueError, match="protocol"):
        splits.speaker_folds(_speakers(), "random")


def test_leaky_split_is_random_over_segments_and_mixes_speakers():
    speakers = _speakers(20)
    train, test = splits.leaky_random_split(len(speakers), test_size=0.2, seed=1)
    assert len(test) == len(speakers) // 5 and not set(train) & set(test)
    assert set(speakers[train]) & set(speakers[test])  # the leakage it exists to show
    again = splits.leaky_random_split(len(speakers), test_size=0.2, seed=1)
    assert (again[1] == test).all()
    assert not (splits.leaky_random_split(len(speakers), 0.2, seed=2)[1] == test).all()
