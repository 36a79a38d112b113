"""MMEngine hooks switched on through ``custom_hooks``."""
from .accuracy_threshold_hook import AccuracyThresholdStopHook
from .weight_schedule_hook import WeightScheduleHook

__all__ = ['AccuracyThresholdStopHook', 'WeightScheduleHook']
