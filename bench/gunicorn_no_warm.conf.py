"""``gunicorn.conf.py`` without its ``post_worker_init`` KB warm-up: the baseline of
``bench/worker_recycle.py`` (the first turn that needs the index builds it). Not for serving."""
import runpy
from pathlib import Path

globals().update(
    {
        name: value
        for name, value in runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py")).items()
        if not name.startswith("_") and name != "post_worker_init"
    }
)
