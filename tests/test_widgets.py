"""The utterance player, driven through its widgets as a user would."""
import io

import soundfile as sf

from emolib.corpus import metadata
from emolib.widgets import UtterancePlayer


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
