"""Notebook 03's live view: what the loss weights do on a real batch, no training.

:func:`load_live_batch` runs a few fixed validation crops once through the
frozen teacher and the student and keeps their head outputs (plain tensors,
no model). :func:`live_view` then synthesizes the loss for given slider
values on those cached tensors -- the student head's own loss against the
label heatmaps (``gt``) and one distillation term (``kd``), combined by a
kdkit synthesis rule -- and differentiates it with respect to the cached
student head output: the map the student is pulled toward, each term's share
of the loss and of the gradient, the confidence-gating mask. A slider move
costs a few milliseconds of tensor arithmetic, not a forward pass.
:func:`draw_live_view` draws one view; :func:`make_live_panel` wires
ipywidgets sliders to the two.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmpose.registry import DATASETS
from torch import Tensor, nn

from kdkit.demo import PROFILE_CONFIGS, SHIPPED_TEACHER, SHIPPED_TEACHER_CONFIG
from kdkit.distill.cli import data_root_options, load_config
from kdkit.distill.distiller import GT_TERM, gt_keypoint_weights
from kdkit.distill.outputs import head_output_kind
from kdkit.distill.teacher import FrozenTeacher, build_pose_model, student_model_cfg
from kdkit.losses import HeatmapKLDistillLoss, HeatmapMSEDistillLoss
from kdkit.losses.utils import heatmap_distribution
from kdkit.notebook.predictions import init_checked_model
from kdkit.notebook.sliders import check_slider, figure_png
from kdkit.synthesis import (ConfidenceGating, SynthesisContext, UncertaintyWeighting,
                             WeightedSum, check_weights, input_keypoints)
from kdkit.synthesis.confidence_gating import teacher_peaks

QUICK = PROFILE_CONFIGS['quick']  # defaults: the quick data and MobileNetV2 student
KD_TERM = 'kd'  # the distillation term's name in the synthesized loss
RULES = ('weighted_sum', 'uncertainty', 'confidence_gating')
KD_LOSSES = ('mse', 'kl')  # HeatmapMSEDistillLoss, HeatmapKLDistillLoss
LIVE_SLIDERS = {'gate_threshold': (0.0, 1.0)}  # beyond sliders.SLIDERS
# floor of L_i in an uncertainty rule's optimal log-variance log(L_i): a term
# with every key point gated out has L_i = 0
MIN_LOSS = 1e-8


@dataclass
class LiveBatch:
    """Model outputs on a few crops, computed once (no model is kept).

    images: (B, H, W, 3) uint8 RGB crops, the models' input.
    student: (B, K, h, w) student head output (heatmaps).
    teacher: (B, K, h, w) teacher heatmaps on the student's grid and key points.
    label: (B, K, h, w) target heatmaps the student's codec encodes from the labels.
    label_weights: (B, K) the labels' key-point weights (0: no label).
    keypoints: (B, K, 2) labels in input pixels.
    keypoint_names: K names.
    gt_loss: the student head's loss module (``loss(pred, label, label_weights)``,
        parameter-free: MMPose's ``KeypointMSELoss`` here).
    source: what the crops and models are, for titles.
    """

    images: np.ndarray
    student: Tensor
    teacher: Tensor
    label: Tensor
    label_weights: Tensor
    keypoints: Tensor
    keypoint_names: tuple
    gt_loss: nn.Module
    source: str = ''

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input (w, h) in pixels."""
        return self.images.shape[2], self.images.shape[1]


# --------------------------------------------------------------- the batch
def load_live_batch(data_root=QUICK['data'], n: int = 3, split: str = 'val',
                    student_config: str = QUICK['student'],
                    student_checkpoint: Optional[str] = None, seed: int = 0,
                    teacher_config: str = SHIPPED_TEACHER_CONFIG,
                    teacher_checkpoint=SHIPPED_TEACHER) -> LiveBatch:
    """``n`` labelled person crops of a split ('val' or 'test'), spread
    evenly over it, through the student config's val pipeline (plus the
    codec's target heatmaps), and both models' head outputs on them,
    computed once on the CPU. Both models must have heatmap heads.

    The student is ``student_checkpoint``, or the student config's model
    freshly initialised under ``seed`` (what training starts from); the
    teacher defaults to the shipped ResNet-18.
    """
    if split not in ('val', 'test'):  # the train pipeline would augment the crops
        raise ValueError(f"live view: split={split!r}; expected 'val' or 'test'")
    cfg = load_config(str(student_config), data_root_options(data_root))
    dataset = labelled_dataset(cfg, split)
    indices = spread_indices(len(dataset), n)
    student = build_student(cfg, student_checkpoint, seed)
    teacher = FrozenTeacher.from_config(teacher_config, teacher_checkpoint, student=student,
                                        student_meta=dataset.metainfo, student_cfg=cfg)
    data = student.data_preprocessor(pseudo_collate([dataset[i] for i in indices]), False)
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        s_out = student.head.forward(student.extract_feat(inputs))
        t_out = teacher(inputs).get('heatmap')
    if head_output_kind(s_out) != 'heatmap' or t_out is None:
        raise ValueError('live view: the student and the teacher need heatmap heads '
                         f'({student_config}, {teacher_config})')
    names = dataset.metainfo['keypoint_id2name']
    who = (f'checkpoint {Path(student_checkpoint).name}' if student_checkpoint
           else f'fresh init, seed {seed}')
    return LiveBatch(
        images=crop_images(inputs, student.data_preprocessor),
        student=s_out.detach(), teacher=t_out.detach(),
        label=torch.stack([s.gt_fields.heatmaps for s in samples]).to(inputs.dtype),
        label_weights=gt_keypoint_weights(samples, inputs),
        keypoints=input_keypoints(samples, inputs),
        keypoint_names=tuple(names[k] for k in sorted(names)),
        gt_loss=student.head.loss_module,
        source=f'{split} crops {indices} of {data_root}; student {Path(student_config).stem} '
               f'({who})')


def live_pipeline(pipeline: list, codec) -> list:
    """A val pipeline that also encodes the labels: the codec's target
    heatmaps (``GenerateTarget``) and the labels in input pixels
    (``PackPoseInputs(pack_transformed=True)``), as the train pipeline packs
    them, without its random augmentation."""
    steps = copy.deepcopy(list(pipeline))
    pack = steps.pop()
    if pack['type'] != 'PackPoseInputs':
        raise ValueError(f"live view: the val pipeline ends with {pack['type']}, "
                         'expected PackPoseInputs')
    return steps + [dict(type='GenerateTarget', encoder=codec),
                    dict(pack, pack_transformed=True)]


def labelled_dataset(cfg, split: str):
    """The split's dataset (labelled frames only) through :func:`live_pipeline`."""
    ds_cfg = copy.deepcopy(cfg[f'{split}_dataloader']['dataset'])
    ds_cfg.update(pipeline=live_pipeline(ds_cfg['pipeline'], cfg.codec), keep_unlabeled=False)
    # quiet: the COCO API prints "loading annotations into memory..." with print
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpose')), \
            contextlib.redirect_stdout(io.StringIO()):
        return DATASETS.build(ds_cfg)


def spread_indices(length: int, n: int) -> list[int]:
    """``n`` indices evenly spread over ``range(length)`` (first and last included)."""
    if length < 1 or n < 1:
        raise ValueError(f'live view: {n} crops asked of a split with {length} labelled frames')
    return sorted({int(round(i)) for i in np.linspace(0, length - 1, min(n, length))})


def build_student(cfg, checkpoint: Optional[str], seed: int) -> nn.Module:
    """The student in eval mode: from ``checkpoint``, else freshly initialised
    under ``seed``."""
    cfg = copy.deepcopy(cfg)
    cfg.model = student_model_cfg(cfg.model)
    if checkpoint:
        return init_checked_model(cfg, checkpoint).eval()
    torch.manual_seed(seed)
    model = build_pose_model(cfg)
    quiet_init_weights(model)
    return model.eval()


def quiet_init_weights(model: nn.Module) -> None:
    """MMEngine's ``init_weights`` (as a Runner starts training) without its
    per-parameter INFO dump to the console."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def crop_images(inputs: Tensor, preprocessor) -> np.ndarray:
    """(B, 3, H, W) normalised model inputs -> (B, H, W, 3) uint8 RGB crops."""
    x = inputs * preprocessor.std + preprocessor.mean  # the model's channel order
    if not getattr(preprocessor, '_channel_conversion', False):
        x = x[:, [2, 1, 0]]  # a BGR model: flip for display
    return x.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()


# ---------------------------------------------------------------- one view
def live_view(batch: LiveBatch, gt_weight, kd_weight, temperature, rule: str,
              gate_threshold, keypoint=0, frame: int = 0, kd_loss: str = 'mse') -> dict:
    """What the synthesized loss does to the cached student output for these
    slider values (no model runs: cached tensors and autograd only).

    Loss: ``rule({gt: L_gt, kd: L_kd}, {gt: gt_weight, kd: kd_weight})`` with
    ``L_gt`` the student head's own loss against the label heatmaps and
    ``L_kd`` ``HeatmapMSEDistillLoss`` (``kd_loss='mse'``) or
    ``HeatmapKLDistillLoss(temperature)`` (``'kl'``) against the teacher.
    Rules: ``weighted_sum``; ``confidence_gating`` (the KD term only on key
    points whose teacher peak is >= ``gate_threshold`` and, where labelled,
    within 10 % of the crop of the label); ``uncertainty`` with each learned
    log-variance at its optimum on this batch, s_i = log L_i (what training
    drives it to): each term's effective weight is w_i / L_i, its share of the
    loss w_i / sum_j w_j.

    Returns a dict, for crop ``frame`` and key point ``keypoint`` (index or name):

    - ``image`` (H, W, 3) uint8 crop; ``keypoints`` (K, 2) labels in input
      pixels (the teacher's peak where there is no label); ``labelled`` (K,) bool;
    - ``label`` (h, w) the label heatmap;
    - ``teacher`` (h, w) the teacher's map softened by the temperature as a
      distribution, softmax(h / (T max h)) (``heatmap_distribution``, the
      target of the KL term);
    - ``target`` (h, w) the map the student is pulled toward: -dL/dS, the
      gradient of the synthesized loss with respect to the cached student
      head output S (autograd), scaled so its largest magnitude is 1 (0
      where the loss has no gradient). One gradient step raises S where it
      is > 0 and lowers it where < 0. For the MSE terms it is
      sum_i c_i (target_i - S): the weighted blend of the label and teacher
      maps minus the student's;
    - ``student`` (h, w) the cached student map;
    - ``mask`` (K,) bool, the key points the KD term keeps (all True but
      under ``confidence_gating``); ``peaks`` (K,) the teacher's peak values;
    - ``losses`` {term: raw L_i}; ``loss_share`` {term: w_i' L_i / sum}, w_i'
      the rule's effective weight; ``grad_share`` {term: |dC_i/dS| / sum},
      C_i the term's contribution to the total and |.| the L2 norm over the
      whole batch's head output; shares are 0 when every term is 0;
    - ``settings`` the checked slider values, ``keypoint`` (index),
      ``keypoint_name``, ``frame``.
    """
    settings = check_live_settings(gt_weight, kd_weight, temperature, rule, gate_threshold,
                                   kd_loss)
    # no torch.set_num_threads(1) here, though it made a view 100x faster on a
    # busy CPU: changing the process's thread pool from a widget callback was
    # the suspect of a kernel that hung in this cell in one browser run
    return synthesized_view(batch, settings, keypoint_index(batch, keypoint),
                            frame_index(batch, frame))


def synthesized_view(batch: LiveBatch, settings: dict, k: int, frame: int) -> dict:
    """:func:`live_view` for checked settings, key point index ``k``."""
    weights = {GT_TERM: settings['gt_weight'], KD_TERM: settings['kd_weight']}
    check_weights(weights)
    synthesis = build_rule(settings['rule'], settings['gate_threshold'])
    gate = synthesis.keypoint_weights(synthesis_context(batch))  # None: every key point
    student = batch.student.detach().clone().requires_grad_(True)
    raw = {GT_TERM: batch.gt_loss(student, batch.label, batch.label_weights),
           KD_TERM: kd_term(settings)(student, batch.teacher, gate)}
    if isinstance(synthesis, UncertaintyWeighting):
        set_optimal_log_vars(synthesis, raw)
    out = synthesis(raw, weights)
    grads = {n: term_gradient(out[f'loss_{n}'], student) for n in raw}
    total = sum(grads.values())
    shown = shown_keypoints(batch, frame)
    peaks, _ = teacher_peaks(batch.teacher, 'heatmap', batch.input_size)
    soft = heatmap_distribution(batch.teacher, settings['temperature']).view_as(batch.teacher)
    return dict(
        image=batch.images[frame], keypoints=shown.numpy(),
        labelled=(batch.label_weights[frame] > 0).numpy(),
        label=batch.label[frame, k].numpy(), teacher=soft[frame, k].numpy(),
        target=unit_peak(-total[frame, k]).numpy(), student=batch.student[frame, k].numpy(),
        mask=(torch.ones_like(peaks[frame]) if gate is None else gate[frame]).bool().numpy(),
        peaks=peaks[frame].numpy(),
        losses={n: float(v.detach()) for n, v in raw.items()},
        loss_share=shares({n: float((out[f'w_{n}'] * raw[n]).detach()) for n in raw}),
        grad_share=shares({n: float(g.norm()) for n, g in grads.items()}),
        settings=settings, keypoint=k, keypoint_name=batch.keypoint_names[k], frame=frame)


def check_live_settings(gt_weight, kd_weight, temperature, rule, gate_threshold,
                        kd_loss) -> dict:
    """The slider values as floats, or a one-line ValueError naming the slider."""
    if rule not in RULES:
        raise ValueError(f'rule={rule!r} unknown: the rule dropdown allows {list(RULES)}')
    if kd_loss not in KD_LOSSES:
        raise ValueError(f'kd_loss={kd_loss!r} unknown: the KD term dropdown allows '
                         f'{list(KD_LOSSES)}')
    return dict(gt_weight=check_slider('gt_weight', gt_weight),
                kd_weight=check_slider('kd_weight', kd_weight),
                temperature=check_slider('temperature', temperature),
                gate_threshold=check_slider('gate_threshold', gate_threshold, LIVE_SLIDERS),
                rule=rule, kd_loss=kd_loss)


def keypoint_index(batch: LiveBatch, keypoint) -> int:
    """A key point given by index or name, as an index."""
    names = batch.keypoint_names
    if isinstance(keypoint, str):
        if keypoint not in names:
            raise ValueError(f'keypoint={keypoint!r} unknown: the key point dropdown allows '
                             f'{list(names)}')
        return names.index(keypoint)
    if isinstance(keypoint, bool) or not isinstance(keypoint, (int, np.integer)) \
            or not 0 <= keypoint < len(names):
        raise ValueError(f'keypoint={keypoint!r} out of range: the key point dropdown '
                         f'allows 0..{len(names) - 1} or a name')
    return int(keypoint)


def frame_index(batch: LiveBatch, frame) -> int:
    n = batch.student.shape[0]
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) \
            or not 0 <= frame < n:
        raise ValueError(f'frame={frame!r} out of range: the crop dropdown allows 0..{n - 1}')
    return int(frame)


def kd_term(settings: dict) -> nn.Module:
    if settings['kd_loss'] == 'kl':
        return HeatmapKLDistillLoss(temperature=settings['temperature'])
    return HeatmapMSEDistillLoss()


def build_rule(rule: str, threshold: float) -> nn.Module:
    """The kdkit synthesis rule of a dropdown value, over the terms gt and kd."""
    if rule == 'confidence_gating':
        return ConfidenceGating(threshold=threshold)
    if rule == 'uncertainty':
        return UncertaintyWeighting(terms=[GT_TERM, KD_TERM])
    return WeightedSum()


def synthesis_context(batch: LiveBatch) -> SynthesisContext:
    """What a rule may read to weight key points, from the cached tensors."""
    return SynthesisContext(student={'heatmap': batch.student},
                            teacher={'heatmap': batch.teacher},
                            gt_keypoints=batch.keypoints, gt_weights=batch.label_weights,
                            input_size=batch.input_size)


def set_optimal_log_vars(rule: UncertaintyWeighting, raw: dict) -> None:
    """Each learned s_i at its optimum on this batch, log L_i (L_i >= 1e-8)."""
    with torch.no_grad():
        for name, loss in raw.items():
            rule.log_vars[name].fill_(math.log(max(float(loss), MIN_LOSS)))


def term_gradient(contribution: Tensor, student: Tensor) -> Tensor:
    """d contribution / d student; zeros when the term does not depend on it
    (e.g. a KD term with every key point gated out)."""
    if not contribution.requires_grad:
        return torch.zeros_like(student)
    grad, = torch.autograd.grad(contribution, student, retain_graph=True, allow_unused=True)
    return torch.zeros_like(student) if grad is None else grad


def shown_keypoints(batch: LiveBatch, frame: int) -> Tensor:
    """(K, 2) where to draw each key point: its label, else the teacher's peak."""
    _, loc = teacher_peaks(batch.teacher[frame:frame + 1], 'heatmap', batch.input_size)
    labelled = (batch.label_weights[frame] > 0)[:, None]
    return torch.where(labelled, batch.keypoints[frame].to(loc.dtype), loc[0])


def unit_peak(x: Tensor) -> Tensor:
    """``x`` over its largest magnitude (zeros stay zeros)."""
    peak = float(x.abs().max())
    return x / peak if peak > 0 else torch.zeros_like(x)


def shares(values: dict) -> dict:
    """Each value over their sum (all 0 when the sum is 0)."""
    total = sum(values.values())
    return {n: (v / total if total > 0 else 0.0) for n, v in values.items()}


# ------------------------------------------------------------------ figure
def draw_live_view(view: dict, width: float = 15.0) -> Figure:
    """A bare Agg figure, one row: the crop with the KD mask on its key
    points (green kept, red gated), then for the chosen key point the label
    heatmap, the softened teacher map and the pulled-toward target, and a
    bar chart of each term's share of the loss and of the gradient norm."""
    fig = Figure(figsize=(width, width * 0.26))
    FigureCanvasAgg(fig)
    # a fixed layout: constrained layout would be a third of each redraw
    axes = fig.subplots(1, 5, gridspec_kw=dict(width_ratios=[1, 1, 1, 1, 1.4], wspace=0.3,
                                               left=0.01, right=0.99, top=0.86, bottom=0.07))
    s = view['settings']
    draw_mask(axes[0], view)
    name = view['keypoint_name']
    draw_map(axes[1], view, view['label'], f'label heatmap: {name}', 'viridis')
    draw_map(axes[2], view, view['teacher'],
             f"teacher softened, T={s['temperature']:.2g}: max {view['teacher'].max():.3f}",
             'viridis')
    draw_map(axes[3], view, view['target'], 'pulled toward: -dL/dS (max |.| = 1)', 'RdBu_r',
             limits=(-1, 1))
    draw_shares(axes[4], view)
    fig.suptitle(f"{s['rule']}, gt weight {s['gt_weight']:g}, kd weight {s['kd_weight']:g} "
                 f"({s['kd_loss'].upper()} term), crop {view['frame']}", fontsize=10)
    return fig


def map_extent(view: dict, shape) -> tuple:
    """imshow extent putting heatmap cell j at input pixel j * stride (MMPose's codecs)."""
    h_in, w_in = view['image'].shape[:2]
    sx, sy = w_in / shape[1], h_in / shape[0]
    return (-sx / 2, (shape[1] - 0.5) * sx, (shape[0] - 0.5) * sy, -sy / 2)


def draw_mask(ax, view: dict) -> None:
    s = view['settings']
    ax.imshow(view['image'])
    kp, mask = view['keypoints'], view['mask']
    ax.scatter(*kp[mask].T, s=18, c='lime', edgecolors='k', linewidths=0.4, label='distilled')
    ax.scatter(*kp[~mask].T, s=18, c='red', edgecolors='k', linewidths=0.4, label='gated out')
    ax.scatter(*kp[view['keypoint']], s=90, facecolors='none', edgecolors='yellow',
               linewidths=1.2)
    ax.set_title(f"KD key points (gate {s['gate_threshold']:.2f}: "
                 f'{int(mask.sum())}/{len(mask)} kept)' if s['rule'] == 'confidence_gating'
                 else 'KD key points (no gating)', fontsize=9)
    ax.legend(loc='lower left', fontsize=6, framealpha=0.6)
    ax.axis('off')


def draw_map(ax, view: dict, values, title: str, cmap: str, limits=(None, None)) -> None:
    """A (h, w) map over the dimmed crop, the chosen key point's label ringed."""
    ax.imshow(view['image'].mean(-1), cmap='gray', alpha=0.35)
    im = ax.imshow(values, cmap=cmap, alpha=0.75, vmin=limits[0], vmax=limits[1],
                   extent=map_extent(view, values.shape), interpolation='nearest')
    ax.figure.colorbar(im, ax=ax, fraction=0.05, pad=0.02).ax.tick_params(labelsize=6)
    ax.set_xlim(-0.5, view['image'].shape[1] - 0.5)
    ax.set_ylim(view['image'].shape[0] - 0.5, -0.5)
    ax.set_title(title, fontsize=9)
    ax.axis('off')


def draw_shares(ax, view: dict) -> None:
    terms = list(view['loss_share'])
    x = np.arange(len(terms))
    for dx, key, label, colour in ((-0.2, 'loss_share', 'of the loss', '#8fb3d9'),
                                   (0.2, 'grad_share', 'of |dL/dS|', '#e39b5b')):
        values = [view[key][t] for t in terms]
        bars = ax.bar(x + dx, values, width=0.4, label=label, color=colour)
        ax.bar_label(bars, fmt='%.2f', fontsize=7)
    ax.set_xticks(x, terms)
    ax.set_ylim(0, 1.15)
    ax.set_title("each term's share", fontsize=9)
    ax.legend(fontsize=7, loc='upper right')


# ------------------------------------------------------------------ widgets
def make_live_panel(batch: LiveBatch, kd_loss: str = 'mse'):
    """ipywidgets sliders (gt weight first, kd weight, temperature, rule,
    gating threshold, key point, crop, KD term) redrawing
    :func:`draw_live_view` of :func:`live_view` on each change, into an
    ``Image`` widget (a refused setting's message goes to a label under it).
    The top box has the CSS class ``kdkit-live-panel``.

    An ``Image``, not an ``Output`` widget: captured output makes the
    notebook runner (nbclient, under papermill) send widget updates back on
    the shell channel while it waits for the cell's reply there, which can
    hang the run (jupyter/nbclient#312); an ``Image`` update only flows
    from the kernel."""
    import ipywidgets as w  # lazy: kdkit.demo imports this package and needs no widgets
    # sliders report on release: a redraw takes ~0.3 s, a drag sends dozens of values
    slider = dict(continuous_update=False)
    controls = dict(
        gt_weight=w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description='GT weight',
                                **slider),
        kd_weight=w.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.25,
                                description='KD weight', **slider),
        temperature=w.FloatLogSlider(value=0.5, base=10, min=math.log10(0.05),
                                     max=math.log10(5.0), step=0.1, description='temperature',
                                     **slider),
        rule=w.Dropdown(options=list(RULES), value='weighted_sum', description='rule'),
        gate_threshold=w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05,
                                     description='gate thr.', **slider),
        keypoint=w.Dropdown(options=list(batch.keypoint_names), description='key point'),
        frame=w.Dropdown(options=list(range(batch.student.shape[0])), description='crop'),
        kd_loss=w.Dropdown(options=list(KD_LOSSES), value=kd_loss, description='KD term'))
    image = w.Image(format='png')
    message = w.Label()

    def redraw(_=None):
        values = {name: c.value for name, c in controls.items()}
        controls['gate_threshold'].disabled = values['rule'] != 'confidence_gating'
        try:
            view = live_view(batch, **values)
        except ValueError as e:  # e.g. both weights at 0: the last figure stays
            message.value = str(e)
            return
        message.value = ''
        image.value = figure_png(draw_live_view(view))

    for control in controls.values():
        control.observe(redraw, names='value')
    redraw()
    boxes = list(controls.values())
    return w.VBox([w.HBox(boxes[:3]), w.HBox(boxes[3:6]), w.HBox(boxes[6:]), message,
                   image]).add_class('kdkit-live-panel')
