"""MMEngine hooks switched on through ``custom_hooks`` (``ProgressBarHook``:
added by kdkit's commands themselves)."""
from .accuracy_threshold_hook import AccuracyThresholdStopHook
from .weight_schedule_hook import WeightScheduleHook
from .teacher_cache_hook import TeacherCacheHook
from .progress_bar_hook import ProgressBarHook

__all__ = ['AccuracyThresholdStopHook', 'WeightScheduleHook', 'TeacherCacheHook',
           'ProgressBarHook']
