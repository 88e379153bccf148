"""The report's Conv1D classifier: its shape arithmetic, layers, training and input checks."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from emolib.models import cnn
from emolib.models.cnn import ReportCNN, SamePool1d, TrainConfig

TINY = TrainConfig(epochs=2, epoch_samples=40, batch_size=16)


def _clusters(n_per_class=60, n_features=173, spread=1.0, seed=0):
    """Seven Gaussian clusters with random centres: an easy, separable problem."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (7, n_features))
    y = np.repeat(np.arange(7), n_per_class)
    X = centres[y] + rng.normal(0, spread, (len(y), n_features))
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_parameter_count_is_the_reports():
    assert cnn.count_parameters(ReportCNN(173)) == 581_063
    assert ReportCNN(173).flat_size == 11 * 64


@pytest.mark.parametrize("n_features, flat_len", [(100, 7), (64, 4), (16, 1)])
def test_parameter_count_follows_the_flatten_size(n_features, flat_len):
    model = ReportCNN(n_features)
    assert model.flat_size == flat_len * 64
    # only the first Dense layer depends on the input length: 64 weights per flattened value
    assert cnn.count_parameters(model) == 581_063 - (704 - flat_len * 64) * 64
    assert model(torch.randn(3, n_features)).shape == (3, 7)


def test_same_pool_lengths_follow_keras():
    pool = SamePool1d(5, stride=2)
    x = torch.randn(2, 3, 173)
    lengths = []
    for _ in range(4):
        x = pool(x)
        lengths.append(x.shape[-1])
    assert lengths == [87, 44, 22, 11]


def _keras_same_maxpool(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """Keras 'same' max pooling written out window by window."""
    length = x.shape[-1]
    out = math.ceil(length / s)
    left = max((out - 1) * s + k - length, 0) // 2
    windows = [x[..., max(i * s - left, 0):min(i * s - left + k, length)].max(axis=-1)
               for i in range(out)]
    return np.stack(windows, axis=-1)


@pytest.mark.parametrize("length", [1, 2, 5, 6, 7, 11, 44, 173])
@pytest.mark.parametrize("k, s", [(5, 2), (3, 3), (4, 1)])
def test_same_pool_matches_windowwise_max(length, k, s):
    x = np.random.default_rng(length).normal(size=(2, 3, length)).astype(np.float32)
    got = SamePool1d(k, s)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, _keras_same_maxpool(x, k, s))


def test_same_pool_padding_never_wins():
    x = -1 - torch.rand(1, 2, 173)  # all below -1: zero padding would show up as 0
    pool = SamePool1d(5, 2)
    for _ in range(4):  # 173, 87 (padded 2 + 2), 44, 22 (padded 1 + 2)
        y = pool(x)
        assert torch.isfinite(y).all() and (y < -1).all()
        assert y[..., -1].equal(x[..., -3:].amax(-1))
        x = y


def test_forward_gives_finite_logits_per_row():
    model = ReportCNN().eval()
    out = model(torch.randn(5, 173))
    assert out.shape == (5, 7) and torch.isfinite(out).all()
    assert model(torch.randn(5, 1, 173)).shape == (5, 7)


def test_layer_order_is_the_reports():
    conv = [nn.Conv1d, nn.BatchNorm1d, nn.ReLU, SamePool1d]
    expected = ([nn.Conv1d, nn.ReLU, SamePool1d] + conv + conv + [nn.Dropout] + conv
                + [nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear])
    layers = list(ReportCNN().layers)
    assert [type(m) for m in layers] == expected
    convs = [m for m in layers if isinstance(m, nn.Conv1d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (256, (5,), "same"), (256, (5,), "same"), (128, (5,), "same"), (64, (5,), "same")]
    assert [m.p for m in layers if isinstance(m, nn.Dropout)] == [0.2, 0.25]
    assert [m.out_features for m in layers if isinstance(m, nn.Linear)] == [64, 7]


def test_learns_separable_clusters():
    X, y = _clusters(n_per_class=60, spread=0.5)
    train, test = slice(0, 280), slice(280, None)
    # batches of 16: BatchNorm's running statistics need a few dozen batches to settle
    budget = TrainConfig(epochs=3, epoch_samples=280, batch_size=16)
    model, hist = cnn.train(X[train], y[train], budget, progress=False)
    accuracy = (cnn.predict_logits(model, X[test]).argmax(axis=1) == y[test]).mean()
    assert accuracy >= 0.9
    assert not model.training
    assert list(hist.columns) == ["epoch", "train_loss", "monitor_loss"]
    assert hist.epoch.tolist() == [1, 2, 3] and hist.monitor_loss.isna().all()
    assert hist.train_loss.iloc[-1] < hist.train_loss.iloc[0]


def test_same_seed_same_model_other_seed_other_model():
    X, y = _clusters(n_per_class=10, n_features=40)
    torch.manual_seed(1)  # the caller's global seed plays no part
    a, ha = cnn.train(X, y, TINY, progress=False)
    torch.manual_seed(2)
    b, hb = cnn.train(X, y, TINY, progress=False)
    c, hc = cnn.train(X, y, TrainConfig(**{**TINY.__dict__, "seed": 1}), progress=False)
    assert _same_state(a, b) and ha.equals(hb)
    assert not _same_state(a, c) and not ha.equals(hc)


def test_training_leaves_the_global_torch_rng_alone():
    X, y = _clusters(n_per_class=10, n_features=40)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    cnn.train(X, y, TINY, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_monitor_set_does_not_influence_training():
    X, y = _clusters(n_per_class=10, n_features=40)
    Xm, ym = _clusters(n_per_class=3, n_features=40, seed=1)
    alone, h_alone = cnn.train(X, y, TINY, progress=False)
    watched, h_watched = cnn.train(X, y, TINY, Xm, ym, progress=False)
    assert _same_state(alone, watched)
    assert h_alone.train_loss.equals(h_watched.train_loss)
    assert h_watched.monitor_loss.notna().all() and h_alone.monitor_loss.isna().all()


def test_standardisation_comes_from_the_training_rows_only():
    X, y = _clusters(n_per_class=10, n_features=40)
    X[:, 3] = 5.0  # a constant feature: std floored, not zero
    X_other, y_other = _clusters(n_per_class=3, n_features=40, seed=2)
    model, _ = cnn.train(X, y, TINY, X_other * 100 + 7, y_other, progress=False)
    np.testing.assert_allclose(model.mean.numpy(), X.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.std.numpy(), np.maximum(X.std(axis=0), 1e-8), rtol=1e-5)
    assert model.std[3] == pytest.approx(1e-8)
    # forward applies them: raw rows give the logits that pre-standardised rows give a copy
    # of the model whose buffers do nothing
    plain = copy.deepcopy(model)
    plain.mean.zero_()
    plain.std.fill_(1.0)
    x = torch.from_numpy(X[:8])
    with torch.no_grad():
        assert torch.allclose(model(x), plain((x - model.mean) / model.std), atol=1e-5)
        assert not torch.allclose(model(x), plain(x), atol=1e-3)


def test_epoch_samples_none_is_a_full_pass_every_epoch():
    X, y = _clusters(n_per_class=6, n_features=40)  # 42 rows
    full, h_full = cnn.train(X, y, TrainConfig(epochs=2, epoch_samples=None, batch_size=8),
                             progress=False)
    every, h_every = cnn.train(X, y, TrainConfig(epochs=2, epoch_samples=len(X), batch_size=8),
                               progress=False)
    half, _ = cnn.train(X, y, TrainConfig(epochs=2, epoch_samples=len(X) // 2, batch_size=8),
                        progress=False)
    assert _same_state(full, every) and h_full.equals(h_every)
    assert not _same_state(full, half)
    assert TrainConfig(epochs=30, epoch_samples=None, batch_size=32).describe() == \
        "30 full passes, batch 32"
    assert TrainConfig(epochs=1, epoch_samples=192, batch_size=16).describe() == \
        "1 epoch of 192 rows, batch 16"


def test_final_batch_of_one_row_is_dropped():
    X, y = _clusters(n_per_class=3, n_features=40)  # 21 rows: batches of 4 leave one over
    _, hist = cnn.train(X, y, TrainConfig(epochs=1, epoch_samples=21, batch_size=4),
                        progress=False)
    assert np.isfinite(hist.train_loss).all()


def test_bad_inputs_raise_errors_naming_the_argument():
    X, y = _clusters(n_per_class=2, n_features=40)
    model = ReportCNN(40)
    with pytest.raises(ValueError, match="y_train"):
        cnn.train(X, y[:-1], TINY, progress=False)
    with pytest.raises(ValueError, match="y_train"):
        cnn.train(X, y + 1, TINY, progress=False)  # label 7 is outside 0..6
    with pytest.raises(ValueError, match="y_train"):
        cnn.train(X, -y, TINY, progress=False)
    with pytest.raises(ValueError, match="y_train"):
        cnn.train(X, np.array(["anger"] * len(X)), TINY, progress=False)
    with pytest.raises(ValueError, match="X_train"):
        cnn.train(X[:, 0], y, TINY, progress=False)
    with pytest.raises(ValueError, match="X_train"):
        cnn.train(np.where(X > 1, np.nan, X), y, TINY, progress=False)
    with pytest.raises(ValueError, match="X_monitor"):
        cnn.train(X, y, TINY, X[:, :30], y, progress=False)
    with pytest.raises(ValueError, match="y_monitor"):
        cnn.train(X, y, TINY, X, y[:3], progress=False)
    with pytest.raises(ValueError, match="X_monitor and y_monitor"):
        cnn.train(X, y, TINY, X, progress=False)
    with pytest.raises(ValueError, match="X has 41 features"):
        cnn.predict_logits(model, np.zeros((2, 41)))
    with pytest.raises(ValueError, match="epoch_samples"):
        TrainConfig(epochs=1, epoch_samples=1)


def test_the_conv1d_trains_where_device_says_and_comes_back_on_the_cpu(monkeypatch):
    from emolib.core.errors import EmolibError

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 12)).astype(np.float32), np.arange(40) % 7
    cfg = cnn.TrainConfig(epochs=2, epoch_samples=None, batch_size=8)
    monkeypatch.setenv("EMOLIB_DEVICE", "cpu")
    default, _ = cnn.train(X, y, cfg, progress=False)
    explicit, _ = cnn.train(X, y, cfg, progress=False, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(), explicit.state_dict().values()))
    assert default.mean.device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(EmolibError, match="--device cuda: no such GPU here"):
            cnn.train(X, y, cfg, progress=False, device="cuda")
