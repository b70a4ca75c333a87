"""Every plot writes one valid, deterministic PNG of the expected size and returns its path."""

import struct

import numpy as np
import pytest
from PIL import Image

from vaultlab.metrics import ScoreTable
from vaultlab.report.plots import DPI, plot_det, plot_roc, plot_score_histograms, plot_training_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def scores(seed, n=200, shift=1.5):
    rng = np.random.default_rng(seed)
    label = np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + shift * (2 * label - 1))))
    pai = np.where(label == 1, "", np.where(np.arange(n) % 2 == 0, "print-lq", "replay-hq"))
    return score, label, pai


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    with Image.open(path) as im:
        im.verify()
    return width, height


def curves():
    a, b = scores(0), scores(1, shift=0.5)
    return {"method": (a[0], a[1]), "baseline": (b[0], b[1])}


def test_roc_and_det(tmp_path):
    roc = plot_roc(curves(), tmp_path / "roc.png")
    det = plot_det(curves(), tmp_path / "sub" / "det.png")
    assert roc == tmp_path / "roc.png" and det.exists()
    assert png_size(roc) == (5 * DPI, 4 * DPI)
    assert png_size(det) == (5 * DPI, 4 * DPI)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["det.png"]  # no temporary left behind


def test_outputs_are_deterministic_and_depend_on_input(tmp_path):
    one = plot_roc(curves(), tmp_path / "a.png").read_bytes()
    two = plot_roc(curves(), tmp_path / "b.png").read_bytes()
    assert one == two
    assert b"Software" not in one
    c = curves()
    c["method"] = (c["method"][0][::-1], c["method"][1])
    assert plot_roc(c, tmp_path / "c.png").read_bytes() != one


def test_score_histograms_dicts_tables_and_no_dev(tmp_path):
    s, l, p = scores(2)
    dev = {"score": s, "label": l, "pai": p}
    test = ScoreTable(*scores(3))
    both = plot_score_histograms(dev, test, 0.5, tmp_path / "hist.png")
    w, h = png_size(both)
    assert h == round(3.8 * DPI) and w == 9 * DPI
    log = plot_score_histograms(None, test, 0.5, tmp_path / "hist_log.png", log_density=True)
    assert png_size(log)[0] == round(4.5 * DPI)
    again = plot_score_histograms(dev, test, 0.5, tmp_path / "again.png")
    assert again.read_bytes() == both.read_bytes()
    with pytest.raises(ValueError):
        plot_score_histograms(None, {"score": [], "label": []}, 0.5, tmp_path / "empty.png")


def test_training_curves_list_stages_and_empty(tmp_path):
    history = [{"epoch": e, "step": 10 * e, "seconds": 1.0, "img_per_s": 50.0, "loss": 1 / e, "bce": 0.7 / e} for e in (1, 2, 3)]
    assert png_size(plot_training_curves(history, tmp_path / "c1.png")) == (5 * DPI, 4 * DPI)
    staged = {"teacher": history, "student": [dict(h, mmd=0.01 * h["epoch"]) for h in history]}
    png_size(plot_training_curves(staged, tmp_path / "c2.png"))
    png_size(plot_training_curves([], tmp_path / "c3.png"))
    assert (tmp_path / "c1.png").read_bytes() != (tmp_path / "c2.png").read_bytes()


def test_plot_rejects_one_class(tmp_path):
    from vaultlab.metrics import MetricsError

    with pytest.raises(MetricsError):
        plot_roc({"x": (np.array([0.1, 0.2]), np.array([1, 1]))}, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
