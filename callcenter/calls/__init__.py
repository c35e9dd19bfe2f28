"""What every voice layer shares: the ACD on the event loop, the directory of queues and
agents, and call detail records."""

from callcenter.calls.acd_service import AcdService, TaskOwner
from callcenter.calls.cdr import CallLog, CdrWriter
from callcenter.calls.directory import Directory, load_directory

__all__ = ["AcdService", "CallLog", "CdrWriter", "Directory", "TaskOwner", "load_directory"]
