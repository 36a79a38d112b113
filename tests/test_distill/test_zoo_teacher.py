"""kdkit in a real MMPose project: a stock MMPose body config at 128x96, one
DistillLossHook, and a model-zoo style teacher: an MMPose 0.x checkpoint
(``keypoint_head.*``) served by URL, COCO-WholeBody (133 key points) at 256x192."""
import math

import pytest
import torch

from tests.conftest import save_random_weights  # registered under this name by pytest

pytestmark = pytest.mark.slow

STUDENT = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
           'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py')
WHOLEBODY = ('mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/'
             'td-hm_res50_8xb64-210e_coco-wholebody-256x192.py')
CODEC = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)


def student_config(data_root, work_dir, teacher: dict):
    """The stock config at 128x96 on the tiny data, as a user would write it."""
    from kdkit.distill.cli import load_config
    cfg = load_config(STUDENT, {
        'work_dir': str(work_dir),
        'model.backbone.init_cfg': None,  # no ImageNet download here
        'model.head.decoder': CODEC,
        'train_cfg.max_epochs': 1,
        'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
        'test_dataloader': None, 'test_cfg': None, 'test_evaluator': None,
        'default_hooks.checkpoint': dict(type='CheckpointHook', interval=1),
        'default_hooks.logger.interval': 1,
        'custom_imports': dict(imports=['kdkit'], allow_failed_imports=False),
        'custom_hooks': [dict(type='DistillLossHook', teacher=teacher,
                              terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
                              weights=dict(gt=1.0, kd_heatmap=1.0))],
    })
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] == 'TopdownAffine':
            t['input_size'] = CODEC['input_size']
        if t['type'] == 'GenerateTarget':
            t['encoder'] = CODEC
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.update(
        data_root=f'{data_root}/', ann_file='annotations/person_keypoints_train.json',
        data_prefix=dict(img='images/'), indices=4)  # 2 iterations
    return cfg


def upsample2(x, dim):
    """x2 along ``dim`` by hand: pixel 2i is pixel i, 2i+1 the mean of i and i+1
    (the last repeated): a 256x192 crop's pixel j is the 128x96 crop's j/2."""
    dim, n = dim % x.dim(), x.shape[dim]
    nxt = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)
    return torch.stack([x, (x + nxt) / 2], dim + 1).flatten(dim, dim + 1)


def test_zoo_wholebody_teacher_by_url_teaches_a_stock_body_student_at_another_size(
        tiny_data, tmp_path, http_files, torch_hub_dir, mmpose0x_checkpoint):
    from kdkit.distill import DistillLossHook
    from kdkit.distill.cli import build_runner
    from kdkit.utils.validate import check_run_config

    # the "model zoo": random weights under MMPose 0.x names, served over HTTP
    (tmp_path / 'zoo').mkdir()
    new = save_random_weights(WHOLEBODY, tmp_path / 'wholebody.pth', seed=3)
    old = mmpose0x_checkpoint(new, tmp_path / 'zoo' / 'res50_coco_wholebody_256x192.pth')
    url = http_files(tmp_path / 'zoo', requests=1) + '/' + old.name

    cfg = student_config(tiny_data, tmp_path / 'work',
                         teacher=dict(config=WHOLEBODY, checkpoint=url, keypoint_map='auto'))
    check_run_config(cfg, ('train',))  # downloads the URL once, checks the key-point map
    runner = build_runner(cfg)
    runner.train()

    logged = runner.message_hub.log_scalars
    kd = logged['train/loss_kd_heatmap'].current()
    assert math.isfinite(kd) and kd > 0
    assert runner.iter == 2

    # the map: the teacher's first 17 (COCO body) channels, its 64x48 maps on
    # the student's 32x24 grid, its 256x192 input the student's crop x2
    teacher = next(h for h in runner.hooks if isinstance(h, DistillLossHook)).distiller.teacher
    assert teacher.alignment.keypoints == list(range(17))
    assert teacher.keypoint_mask is None
    data = runner.model.data_preprocessor(next(iter(runner.train_dataloader)), training=False)
    x = data['inputs']
    assert x.shape[-2:] == (128, 96)
    with torch.no_grad():
        big = upsample2(upsample2(x, -1), -2)
        raw = teacher.model.head.forward(teacher.model.extract_feat(big))
    assert raw.shape[1:] == (133, 64, 48)
    expected = raw[:, :17, ::2, ::2]  # cell j of 24 sits where cell 2j of 48 does
    got = teacher(x)['heatmap']
    assert got.shape == (x.shape[0], 17, 32, 24)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got, raw[:, 17:34, ::2, ::2])
