"""RQ worker and scheduler entry points: they run jobs inside the Narrative application context."""
