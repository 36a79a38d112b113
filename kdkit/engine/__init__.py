"""Training-time machinery: hooks and weight schedules."""
from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .schedules import schedule_value

__all__ = [*_hooks_all, 'schedule_value']
