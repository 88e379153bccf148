"""The utterance player, driven through its widgets as a user would."""
import io

import soundfile as sf

from emolib.app.widgets import UtterancePlayer
from emolib.data.corpus import metadata


def _audio(player):
    y, sr = sf.read(io.BytesIO(player.audio.value))
    return y, sr


def test_player_plays_and_draws_the_chosen_utterance(emodb_root):
    meta = metadata(emodb_root)
    player = UtterancePlayer(meta)
    row = meta[(meta.speaker == player.speaker.value) & (meta.text == player.text.value)
               & (meta.emotion == player.emotion.value) & (meta.version == player.version.value)].iloc[0]
    y, sr = _audio(player)
    assert sr == 16000 and abs(len(y) / sr - row.duration) < 1e-3
    assert player.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert row.file in player.status.value

    before_audio, before_image = player.audio.value, player.image.value
    target = meta[(meta.speaker == player.speaker.value) & (meta.emotion == "sadness")].iloc[0]
    player.text.value = target.text
    player.emotion.value = "sadness"
    assert player.audio.value != before_audio and player.image.value != before_image
    chosen = meta[(meta.speaker == target.speaker) & (meta.text == target.text)
                  & (meta.emotion == "sadness")]
    assert sorted(player.version.options) == sorted(chosen.version)
    assert player.version.value + ".wav" in player.status.value
    assert f"{target.speaker}{target.text}T" in player.status.value
    y, _ = _audio(player)
    assert abs(len(y) / 16000 - chosen.set_index("version").duration[player.version.value]) < 1e-3


def test_player_says_when_a_combination_was_never_recorded(emodb_root):
    meta = metadata(emodb_root)
    player = UtterancePlayer(meta)
    player.speaker.value, player.emotion.value = "08", "disgust"  # 08 recorded no disgust
    assert player.version.options == ()
    assert "no recording" in player.status.value


def test_explorer_plays_and_draws_each_augmentation(emodb_root):
    from emolib.app.widgets import EXPLORER_AUGMENTATIONS, AugmentationExplorer
    from emolib.augmentation import catalog

    meta = metadata(emodb_root)
    meta = meta[meta.speaker == "03"]
    explorer = AugmentationExplorer(meta, file="03a01Wa.wav", augmentation="noise")
    original, sr = sf.read(io.BytesIO(explorer.original_audio.value))
    for key, p in catalog.PARAMS.items():  # the sliders are the catalog's parameters
        w = explorer.params[key]
        assert (w.value, w.min, w.max, w.description) == (p.default, p.low, p.high, p.label), key
    assert set(explorer.params) == set(catalog.PARAMS)
    seen = set()
    for name, used in EXPLORER_AUGMENTATIONS.items():
        explorer.augmentation.value = name
        y, sr = sf.read(io.BytesIO(explorer.audio.value))
        assert sr == 16000 and len(y) > 0 and name in explorer.status.value
        assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        seen.add(explorer.audio.value)
        shown = {k for k, w in explorer.params.items() if w.layout.display != "none"}
        assert shown == set(used), name
        if name == "time stretch":
            assert abs(len(y) - len(original) / 0.8) < 2  # the default rate, 0.8
    assert len(seen) == len(EXPLORER_AUGMENTATIONS)  # each one sounds different

    explorer.augmentation.value = "time crop"
    explorer.params["crop"].value = 0.5
    y, _ = sf.read(io.BytesIO(explorer.audio.value))
    assert len(y) == 50 * 160  # 0.5 s = 50 frames of 10 ms
    explorer.augmentation.value = "shift"
    before = explorer.audio.value
    explorer.params["shift"].value = 0  # no shift: the original
    y, _ = sf.read(io.BytesIO(explorer.audio.value))
    assert explorer.audio.value != before and abs(y - original).max() < 1e-4
    before_original = explorer.original_audio.value
    explorer.file.value = "03a01Fa.wav"
    assert explorer.original_audio.value != before_original
    assert "03a01Fa.wav" in explorer.status.value


def test_every_parameter_an_augmentation_reads_has_a_slider_in_its_range():
    from emolib.augmentation import catalog

    for name, entry in catalog.CATALOG.items():
        assert set(entry.params) <= set(catalog.PARAMS), name
    for key, p in catalog.PARAMS.items():
        assert p.low <= p.default <= p.high and p.step > 0, key
        assert not p.integer or all(float(v).is_integer() for v in (p.default, p.low, p.high, p.step)), key
