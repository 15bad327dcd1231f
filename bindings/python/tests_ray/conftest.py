"""Tests of swiftcnn.ray on a local Ray cluster started here (2 CPUs), stopped at the end.

Every test module here starts with pytest.importorskip("ray"), so without Ray (pip install
'swiftcnn[ray]') each module is reported as skipped and pytest exits 0."""
import logging
import os

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster with 2 CPUs for the whole session."""
    import ray
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             configure_logging=True)
    from ray.data import DataContext
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield ray
    ray.shutdown()
