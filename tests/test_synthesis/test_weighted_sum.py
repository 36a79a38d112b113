import pytest
import torch
from mmengine.model import BaseModel
from mmpose.registry import MODELS

from kdkit.synthesis import BaseSynthesis, WeightedSum, check_weights
from kdkit.synthesis import __all__ as RULES


def terms():
    return {'gt': torch.tensor(2.0), 'kd_heatmap': torch.tensor(3.0)}


def test_weighted_terms_and_logged_weights():
    out = WeightedSum()(terms(), {'gt': 1.0, 'kd_heatmap': 0.5})
    assert out['loss_gt'].item() == 2.0
    assert out['loss_kd_heatmap'].item() == 1.5
    assert out['w_kd_heatmap'].item() == 0.5


def test_mmengine_sums_only_the_loss_keys():
    out = WeightedSum()(terms(), {'gt': 1.0, 'kd_heatmap': 0.5})
    total, log_vars = BaseModel.parse_losses(None, out)
    assert total.item() == pytest.approx(2.0 + 1.5)
    assert log_vars['w_gt'].item() == 1.0


def test_weights_for_absent_terms_are_ignored():
    out = WeightedSum()({'gt': torch.tensor(2.0)}, {'gt': 1.0, 'kd': 1.0})
    assert set(out) == {'loss_gt', 'w_gt'}


def test_negative_weight_names_the_term():
    with pytest.raises(ValueError, match='kd_heatmap'):
        WeightedSum()(terms(), {'gt': 1.0, 'kd_heatmap': -0.1})


def test_all_zero_weights_rejected():
    with pytest.raises(ValueError, match='all term weights are zero'):
        check_weights({'gt': 0.0, 'kd_heatmap': 0})
    check_weights({'gt': 0.0, 'kd_heatmap': 1.0})  # one zero is fine


def test_missing_weight_and_loss_in_name_rejected():
    with pytest.raises(ValueError, match='kd_heatmap'):
        WeightedSum()(terms(), {'gt': 1.0})
    with pytest.raises(ValueError, match='kd_loss'):
        WeightedSum()({'kd_loss': torch.tensor(1.0)}, {'kd_loss': 1.0})


@pytest.mark.parametrize('cfg', [
    dict(type='WeightedSum'),
    dict(type='UncertaintyWeighting', terms=['gt', 'kd_heatmap']),
    dict(type='ConfidenceGating', threshold=0.3, kind='simcc'),
])
def test_rules_build_from_config(cfg):
    rule = MODELS.build(cfg)
    assert isinstance(rule, BaseSynthesis)
    assert type(rule).__name__ in RULES
