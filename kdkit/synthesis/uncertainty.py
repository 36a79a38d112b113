"""Homoscedastic-uncertainty weighting of loss terms (Kendall et al.)."""
from __future__ import annotations

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from .base import BaseSynthesis, weighted_loss_dict


@MODELS.register_module()
class UncertaintyWeighting(BaseSynthesis):
    """Learned per-term balance: L = sum_i w_i (exp(-s_i) L_i + s_i).

    Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
    Losses for Scene Geometry and Semantics", CVPR 2018, with s_i = log
    sigma_i^2 learned per term in ``terms``. Convention: the paper's Gaussian
    form is exp(-s) L / 2 + s / 2; the 1/2 is dropped here (the whole term is
    doubled), which leaves the optimum s_i* = log L_i unchanged, i.e. each
    term ends up weighted by about w_i / L_i. The s_i term makes the total
    loss go negative once L_i < 1: that is expected.

    Terms not named in ``terms`` are added as w_i L_i. ``w_i`` is the
    user/schedule weight (0 switches a term off). Logs 'w_<name>' = effective
    weight w_i exp(-s_i) and 'sigma_<name>' = exp(s_i / 2).

    Has parameters (the s_i): it must be part of the model
    (``KDPoseEstimator``) so the optimizer updates them. kdkit's runs give
    them their own lr (x ``SYNTHESIS_LR_MULT``) and no weight decay, through
    ``optim_wrapper.paramwise_cfg.custom_keys['distiller.synthesis']``
    (:func:`kdkit.distill.estimator.synthesis_paramwise`); with MMPose's
    ``tools/train.py`` add that key to the config.

    Args:
        terms: names of the terms whose weight is learned.
        init_log_var: initial s_i (0 -> start as the plain weighted sum).
    """

    def __init__(self, terms: list[str], init_log_var: float = 0.0):
        super().__init__()
        if not terms:
            raise ValueError('UncertaintyWeighting needs at least one term '
                             'name in `terms`')
        self.log_vars = nn.ParameterDict({
            name: nn.Parameter(torch.tensor(float(init_log_var)))
            for name in terms
        })

    def forward(self, terms: dict[str, Tensor],
                weights: dict[str, float]) -> dict[str, Tensor]:
        self._validate(terms, weights)
        fixed = {n: l for n, l in terms.items() if n not in self.log_vars}
        out = weighted_loss_dict(fixed, weights)
        for name, loss in terms.items():
            if name in self.log_vars:
                out.update(self._learned_term(name, loss, weights[name]))
        return out

    def _learned_term(self, name: str, loss: Tensor,
                      weight: float) -> dict[str, Tensor]:
        s = self.log_vars[name]
        precision = torch.exp(-s)
        return {
            f'loss_{name}': float(weight) * (precision * loss + s),
            f'w_{name}': (float(weight) * precision).detach(),
            f'sigma_{name}': torch.exp(0.5 * s).detach(),
        }
