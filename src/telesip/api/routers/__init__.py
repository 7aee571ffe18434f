"""One router per resource; ``telesip.api.app`` mounts them under ``/api/v1``."""
