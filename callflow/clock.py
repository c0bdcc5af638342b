"""The one place callflow reads the time, so tests can move it (time-machine)."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)
