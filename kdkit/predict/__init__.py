"""``kdkit predict``: a pose model on a folder of images or a video, written as
COCO key-point results (original-frame pixels) and an overlay video/GIF."""
from kdkit.predict.core import (draw_pose, list_images, load_boxes, predict,
                                read_video_info)

__all__ = ['predict', 'load_boxes', 'list_images', 'read_video_info', 'draw_pose']
