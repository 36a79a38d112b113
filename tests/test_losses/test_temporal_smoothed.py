import math

import pytest
import torch

from kdkit.losses import TemporalSmoothedHeatmapDistillLoss
from kdkit.losses.temporal_smoothed import polyfit, refined_argmax
from kdkit.losses.utils import gaussian_maps

SIGMA = 1.5


def track_maps(xs, ys, peak=1.0, size=(16, 12)):
    """One key point along a track: (T, 1, H, W) Gaussians at (x_t, y_t) cells."""
    loc = torch.tensor([[[x, y]] for x, y in zip(xs, ys)], dtype=torch.float64)
    return peak * gaussian_maps(loc, size, SIGMA)


def test_refined_argmax_recovers_sub_cell_centres_and_peak():
    maps = track_maps([3.3, 6.0, 8.45], [4.8, 7.0, 9.1], peak=0.6)
    loc, conf = refined_argmax(maps)
    assert loc[:, 0].flatten().tolist() == pytest.approx([3.3, 4.8, 6.0, 7.0, 8.45, 9.1], abs=1e-6)
    # the sampled peak: 0.6 at the centre cell's distance from the true centre
    d2 = (0.3**2 + 0.2**2, 0.0, 0.45**2 + 0.1**2)
    assert conf[:, 0].tolist() == pytest.approx([0.6 * math.exp(-d / (2 * SIGMA**2)) for d in d2])


def test_refined_argmax_on_the_border_takes_the_cell():
    maps = torch.zeros(1, 1, 5, 4, dtype=torch.float64)
    maps[0, 0, 0, 3] = 0.9  # corner: no neighbour on one side, no Taylor step
    loc, conf = refined_argmax(maps)
    assert loc.flatten().tolist() == [3.0, 0.0] and conf.item() == pytest.approx(0.9)


def test_polyfit_degree_one_is_the_weighted_line():
    # x = 1, 2, 3, 10 with the outlier's weight ~0: the line through the rest
    clips = torch.tensor([1.0, 2.0, 3.0, 10.0], dtype=torch.float64).view(1, 4, 1, 1).expand(1, 4, 1, 2)
    w = torch.tensor([1.0, 1.0, 1.0, 1e-9], dtype=torch.float64).view(1, 4, 1)
    fit = polyfit(clips.contiguous(), w, 1)
    assert fit[0, :, 0, 0].tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0], abs=1e-6)
    # equal weights: ordinary least squares, mean 4, slope 2.8 per frame
    fit = polyfit(clips.contiguous(), torch.ones_like(w), 1)
    assert fit[0, :, 0, 1].tolist() == pytest.approx([-0.2, 2.6, 5.4, 8.2])


def test_teacher_on_a_straight_line_is_its_own_target():
    # a teacher moving at constant velocity: the fit changes nothing, so a
    # student equal to the teacher's unit-peak Gaussians costs 0
    t = track_maps([2.0, 3.5, 5.0, 6.5], [3.0, 4.0, 5.0, 6.0])
    loss = TemporalSmoothedHeatmapDistillLoss(clip_len=4, sigma=SIGMA)
    assert loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-12)


def test_a_shaking_teacher_gives_targets_on_its_line():
    # the teacher shakes +-0.4 cells about x = 4 + t (a shake orthogonal to
    # any line through 4 frames); the target is the line
    xs = [4.4, 4.6, 5.6, 7.4]
    t = track_maps(xs, [6.0] * 4)
    student = track_maps([4.0, 5.0, 6.0, 7.0], [6.0] * 4)
    fit = polyfit(torch.tensor(xs, dtype=torch.float64).view(1, 4, 1, 1), torch.ones(1, 4, 1,
                  dtype=torch.float64), 1)
    assert fit.flatten().tolist() == pytest.approx([4.0, 5.0, 6.0, 7.0])
    loss = TemporalSmoothedHeatmapDistillLoss(clip_len=4, sigma=SIGMA)
    assert loss(student, t).item() == pytest.approx(0.0, abs=1e-10)
    # the unsmoothed ablation sends it to the shaking points instead
    sharp = TemporalSmoothedHeatmapDistillLoss(clip_len=4, sigma=SIGMA, degree=None)
    assert sharp(student, t).item() > 1e-4
    assert sharp(t.clone(), t).item() == pytest.approx(0.0, abs=1e-12)



def test_fit_to_student_pulls_its_own_shake_onto_its_line():
    # no teacher motion at all: the student's own points, fitted, are its target
    shaky = track_maps([4.4, 4.6, 5.6, 7.4], [6.0] * 4)
    still_teacher = track_maps([1.0] * 4, [1.0] * 4)
    loss = TemporalSmoothedHeatmapDistillLoss(clip_len=4, sigma=SIGMA, fit_to='student')
    on_line = track_maps([4.0, 5.0, 6.0, 7.0], [6.0] * 4)
    assert loss(on_line, still_teacher).item() == pytest.approx(0.0, abs=1e-12)
    shaky = shaky.float().requires_grad_()
    value = loss(shaky, still_teacher.float())
    value.backward()
    assert value.item() > 1e-4
    # a small step down the gradient moves the frames toward the line
    stepped = (shaky - 50 * shaky.grad).detach()
    x_before = refined_argmax(shaky.detach())[0][:, 0, 0]
    x_after = refined_argmax(stepped)[0][:, 0, 0]
    line = torch.tensor([4.0, 5.0, 6.0, 7.0])
    assert (x_after - line).abs().sum() < (x_before - line).abs().sum()
    with pytest.raises(ValueError, match='fit_to'):
        TemporalSmoothedHeatmapDistillLoss(clip_len=4, sigma=SIGMA, fit_to='both')

def test_known_value_and_confidence_weight():
    # one frame, one key point, student all zeros: l = mean of G^2, times the
    # teacher's peak c (label reduction: B = K = 1)
    t = track_maps([5.0], [7.0], peak=0.5)
    loss = TemporalSmoothedHeatmapDistillLoss(clip_len=1, sigma=SIGMA, degree=0)
    g = track_maps([5.0], [7.0])
    expected = 0.5 * g.pow(2).mean().item()
    assert loss(torch.zeros_like(t), t).item() == pytest.approx(expected)
    # a masked key point costs nothing
    assert loss(torch.zeros_like(t), t, torch.zeros(1, 1)).item() == 0.0


def test_gradient_reaches_the_student_only():
    t = track_maps([2.0, 3.0], [2.0, 3.0]).float().requires_grad_()
    s = torch.rand(2, 1, 16, 12, requires_grad=True)
    TemporalSmoothedHeatmapDistillLoss(clip_len=2, sigma=SIGMA)(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0 and t.grad is None


def test_teacher_on_another_grid_is_resized_first():
    # teacher at twice the resolution, same input extent: cell 2x -> x
    t = track_maps([4.0, 6.0, 8.0], [6.0, 6.0, 6.0], size=(32, 24))
    s = track_maps([2.0, 3.0, 4.0], [3.0, 3.0, 3.0])
    loss = TemporalSmoothedHeatmapDistillLoss(clip_len=3, sigma=SIGMA)
    assert loss(s, t).item() < 1e-4 < loss(torch.zeros_like(s), t).item()


@pytest.mark.parametrize('kwargs, match', [
    (dict(clip_len=0, sigma=1.5), 'clip_len'),
    (dict(clip_len=4, sigma=1.5, degree=4), 'degree'),
    (dict(clip_len=4, sigma=0.0), 'sigma'),
    (dict(clip_len=4, sigma=1.5, reduction='sum'), 'reduction'),
])
def test_bad_arguments_say_which(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TemporalSmoothedHeatmapDistillLoss(**kwargs)


def test_batch_of_partial_clips_is_refused():
    loss = TemporalSmoothedHeatmapDistillLoss(clip_len=4, sigma=SIGMA)
    t = track_maps([1.0] * 6, [1.0] * 6)
    with pytest.raises(ValueError, match='multiple of clip_len=4'):
        loss(t.clone(), t)
