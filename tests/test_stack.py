"""The stack itself: MMPose imports and a stock MMPose config trains one real iteration."""
import json

import cv2
import numpy as np


def test_mmpose_apis_and_visualization_import():
    import mmpose.apis  # noqa: F401
    import mmpose.visualization  # noqa: F401
    from mmcv.ops import nms  # compiled ops present  # noqa: F401


def write_tiny_coco(root, n=4, size=64):
    """n random images, one person each, in COCO keypoint format."""
    rng = np.random.default_rng(0)
    (root / 'img').mkdir(parents=True)
    images, anns = [], []
    for i in range(n):
        cv2.imwrite(str(root / 'img' / f'{i}.jpg'), rng.integers(0, 255, (size, size, 3), np.uint8))
        kpts = np.concatenate([rng.uniform(8, size - 8, (17, 2)), np.full((17, 1), 2.)], 1)
        images.append(dict(id=i, file_name=f'{i}.jpg', width=size, height=size))
        anns.append(dict(id=i, image_id=i, category_id=1, iscrowd=0, num_keypoints=17,
                         bbox=[4., 4., size - 8., size - 8.], area=float((size - 8) ** 2),
                         keypoints=kpts.flatten().tolist()))
    ann = dict(images=images, annotations=anns,
               categories=[dict(id=1, name='person', keypoints=[str(k) for k in range(17)],
                                skeleton=[])])
    (root / 'ann.json').write_text(json.dumps(ann))


def test_stock_config_trains_one_iteration(tmp_path):
    from mmengine.config import Config
    from mmengine.hub import get_config
    from mmengine.runner import Runner
    write_tiny_coco(tmp_path / 'coco')
    cfg = get_config('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                     'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py')
    codec = dict(type='MSRAHeatmap', input_size=(64, 96), heatmap_size=(16, 24), sigma=2)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'model.backbone.init_cfg': None,  # no pretrained download
        'model.head.decoder': codec,
        'train_cfg': dict(by_epoch=True, max_epochs=1, val_interval=10),
        'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
        'test_dataloader': None, 'test_cfg': None, 'test_evaluator': None,
        'default_hooks.checkpoint': dict(type='CheckpointHook', interval=1),
        'default_hooks.logger.interval': 1,
    })
    cfg = cfg.to_dict()
    pipeline = []
    for t in cfg['train_dataloader']['dataset']['pipeline']:
        t = dict(t)
        if t['type'] == 'TopdownAffine':
            t['input_size'] = codec['input_size']
        if t['type'] == 'GenerateTarget':
            t['encoder'] = codec
        pipeline.append(t)
    cfg['train_dataloader'].update(batch_size=4, num_workers=0, persistent_workers=False)
    cfg['train_dataloader']['dataset'].update(
        data_root=str(tmp_path / 'coco') + '/', ann_file='ann.json',
        data_prefix=dict(img='img/'), pipeline=pipeline)
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    assert runner.iter == 1
    loss = runner.message_hub.log_scalars['train/loss'].current()
    assert np.isfinite(loss) and loss > 0
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
