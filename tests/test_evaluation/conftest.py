"""Small stock MMPose models (random weights, no downloads) for the tests."""
from __future__ import annotations

import os.path as osp

import pytest


def stock_config(rel: str) -> str:
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', rel)


MOBILENETV2 = ('body_2d_keypoint/topdown_heatmap/coco/'
               'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py')


@pytest.fixture(scope='module')
def mobilenetv2_64():
    """MobileNetV2 + heatmap head at a 64 x 64 input."""
    from kdkit.export import build_student
    return build_student(stock_config(MOBILENETV2), input_size=(64, 64))
