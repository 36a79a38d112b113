"""MMEngine hooks switched on through ``custom_hooks``."""
from .accuracy_threshold_hook import AccuracyThresholdStopHook
from .weight_schedule_hook import WeightScheduleHook
from .teacher_cache_hook import TeacherCacheHook

__all__ = ['AccuracyThresholdStopHook', 'WeightScheduleHook', 'TeacherCacheHook']
