"""Loading audio as 16 kHz mono float32, and the errors for files that cannot be used."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emolib.core.errors import AudioError
from emolib.data import audio, download
from emolib.data.audio import load_audio, wav_truncation


def sine(freq, seconds, sr, amp=0.3):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(y, sr):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)]


def test_real_emodb_file_loads_as_16k_mono_float32(emodb_root):
    path = emodb_root / "wav" / sorted(download.read_manifest())[0]
    y = load_audio(path)
    info = sf.info(str(path))
    assert info.samplerate == audio.SAMPLE_RATE == 16000 and info.channels == 1
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == info.frames
    assert y.flags["C_CONTIGUOUS"]
    ref, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_array_equal(y, ref)  # no resampling for a 16 kHz file


def test_stereo_44k_sine_becomes_mono_16k(tmp_path, wav_writer):
    tone = sine(440, 1.0, 44100)
    path = wav_writer(tmp_path / "stereo.wav", np.stack([tone, tone], axis=1), 44100)
    assert sf.info(str(path)).channels == 2
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 16000) <= 1
    assert dominant_hz(y, 16000) == pytest.approx(440, abs=2)
    mid = y[2000:-2000]  # away from the resampler's edges
    assert np.max(np.abs(mid)) == pytest.approx(0.3, abs=0.01)


def test_stereo_channels_are_averaged(tmp_path, wav_writer):
    left, right = sine(440, 1.0, 16000, 0.4), sine(1000, 1.0, 16000, 0.2)
    path = wav_writer(tmp_path / "lr.wav", np.stack([left, right], axis=1), 16000, "FLOAT")
    y = load_audio(path)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-6)


def test_stereo_opposite_channels_cancel_to_silence(tmp_path, wav_writer):
    tone = sine(440, 1.0, 16000)
    path = wav_writer(tmp_path / "anti.wav", np.stack([tone, -tone], axis=1), 16000, "FLOAT")
    with pytest.raises(AudioError, match="silent"):
        load_audio(path)


def test_8k_file_is_upsampled(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "8k.wav", sine(300, 0.75, 8000), 8000)
    y = load_audio(path)
    assert y.dtype == np.float32
    assert abs(len(y) - 12000) <= 1
    assert dominant_hz(y, 16000) == pytest.approx(300, abs=3)


def test_other_target_rate(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "a.wav", sine(440, 1.0, 16000), 16000)
    assert abs(len(load_audio(path, sr=22050)) - 22050) <= 1


# --- files that cannot be used ----------------------------------------------------------------

def test_text_file_named_wav(tmp_path):
    path = tmp_path / "x.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "x.wav" in str(info.value)
    assert "not a readable audio file" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "absent.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "empty" in str(info.value) and "empty.wav" in str(info.value)


def test_truncated_wav(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "cut.wav", sine(440, 1.0, 16000), 16000)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "truncated" in str(info.value) and "cut.wav" in str(info.value)
    assert wav_truncation(path) is not None


def test_header_only_wav(tmp_path, wav_writer):
    """Cut inside the data chunk's header: no complete data chunk at all."""
    path = wav_writer(tmp_path / "head.wav", sine(440, 1.0, 16000), 16000)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(AudioError):
        load_audio(path)


def test_silent_audio(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "zeros.wav", np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "silent" in str(info.value) and "zeros.wav" in str(info.value)


def test_one_lsb_is_still_silent_but_two_are_not(tmp_path, wav_writer):
    y = np.zeros(16000, dtype=np.int16)
    y[100] = 1
    with pytest.raises(AudioError, match="silent"):
        load_audio(wav_writer(tmp_path / "lsb1.wav", y, 16000))
    y[100] = 2
    assert load_audio(wav_writer(tmp_path / "lsb2.wav", y, 16000)).shape == (16000,)


def test_nan_in_float_wav(tmp_path, wav_writer):
    y = sine(440, 1.0, 16000)
    y[500] = np.nan
    path = wav_writer(tmp_path / "nan.wav", y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "NaN" in str(info.value) and "nan.wav" in str(info.value)


def test_inf_in_float_wav(tmp_path, wav_writer):
    y = sine(440, 1.0, 16000)
    y[500] = np.inf
    path = wav_writer(tmp_path / "inf.wav", y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="infinite"):
        load_audio(path)


def test_too_short(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "short.wav", sine(440, 0.05, 16000), 16000)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "too short" in str(info.value) and "short.wav" in str(info.value)


def test_minimum_length_is_accepted(tmp_path, wav_writer):
    n = int(audio.MIN_SECONDS * 16000)
    assert len(load_audio(wav_writer(tmp_path / "min.wav", sine(440, n / 16000, 16000), 16000))) == n
    with pytest.raises(AudioError, match="too short"):
        load_audio(wav_writer(tmp_path / "min1.wav", sine(440, (n - 1) / 16000, 16000), 16000))


def test_zero_frame_wav(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "none.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="none.wav"):
        load_audio(path)


# --- wav_truncation ----------------------------------------------------------------------------

@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_wav_truncation_none_for_intact_file(tmp_path, wav_writer, subtype):
    path = wav_writer(tmp_path / f"ok-{subtype}.wav", sine(440, 0.5, 16000), 16000, subtype)
    assert wav_truncation(path) is None


def test_wav_truncation_none_for_real_emodb_file(emodb_root):
    path = emodb_root / "wav" / sorted(download.read_manifest())[-1]
    assert wav_truncation(path) is None


def test_wav_truncation_ignores_non_riff_files(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "a.flac", sine(440, 0.5, 16000), 16000)
    assert wav_truncation(path) is None
    assert len(load_audio(path)) == 8000


def test_wav_truncation_describes_a_short_data_chunk(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "t.wav", sine(440, 0.5, 16000), 16000)  # 16000 bytes of audio
    path.write_bytes(path.read_bytes()[:-1000])
    message = wav_truncation(path)
    assert message.startswith("truncated") and "16000" in message and "15000" in message


def test_wav_truncation_accepts_a_streamed_header_with_open_size(tmp_path, wav_writer):
    path = wav_writer(tmp_path / "stream.wav", np.full(1600, 0.1), 16000)
    blob = bytearray(path.read_bytes())
    pos = blob.index(b"data")
    blob[pos + 4:pos + 8] = (0xFFFFFFFF).to_bytes(4, "little")  # size unknown while streaming
    path.write_bytes(bytes(blob))
    assert wav_truncation(path) is None
    cut = tmp_path / "cut.wav"
    blob[pos + 4:pos + 8] = (10**6).to_bytes(4, "little")
    cut.write_bytes(bytes(blob))
    assert "truncated" in wav_truncation(cut)
