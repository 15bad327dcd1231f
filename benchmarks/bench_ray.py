"""Images per second through swiftcnn.ray.predict against plain single-process swiftcnn.

    .venv/bin/python benchmarks/bench_ray.py [--runs 3] [--resnet-images 48] [--lenet-images 8192]

For each model (resnet18 at 224x224, batch 16; lenet5 on 32x32 digits, batch 512) it times,
with the median of --runs runs:

- single: model(x[i:i + batch]) over the images in this process at 2 threads;
- ray 2x1: swiftcnn.ray.predict with 2 workers x 1 thread (a local Ray cluster, 2 CPUs);
- ray 1x2: 1 worker x 2 threads;
- job overhead: predict on a single batch (actor start, model load, one batch, collect),
  which every predict() call pays once (its actor pool lives for that call);
- 2x1 steady: (images - batch) / (ray 2x1 time - job overhead), the rate once running.

Each Ray time is the whole predict() call on a numpy array: cutting it into blocks, putting
them in the object store, starting the actors, running, collecting the results in order.
Ray's startup (ray.init) is not counted. Results are checked equal to the single run.

Training (--fit): swiftcnn.ray.fit with 2 workers x 1 thread against Model.fit in this process
at 2 threads (SGD with momentum, the same batches), for lenet5 on the digits (1437 images,
batch 64) and resnet18 at 32x32 (batch 32): the whole call (actor start included) and the
rate of the steps after the first epoch's first step; the final weights are compared.
"""
import argparse
import logging
import os
import statistics
import tempfile
import time

import numpy as np

import swiftcnn
from swiftcnn import models


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--resnet-images", type=int, default=48)
    ap.add_argument("--lenet-images", type=int, default=8192)
    ap.add_argument("--fit", action="store_true", help="also time data-parallel training")
    ap.add_argument("--no-predict", action="store_true", help="only the training part")
    args = ap.parse_args()

    import ray
    import swiftcnn.ray as sr
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    tmp = tempfile.mkdtemp()
    cases = [("resnet18", models.create("resnet18"), (args.resnet_images, 3, 224, 224), 16),
             ("lenet5", models.create("lenet5"), (args.lenet_images, 1, 32, 32), 512)]
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    if not args.no_predict:
        print(f"{'model':9} {'images':>6} {'batch':>5}  {'single 2T':>10}  {'ray 2x1':>10}  {'ray 1x2':>10}  "
              f"{'2x1/single':>10}  {'job overhead':>12}  {'2x1 steady':>10}")
    for name, m, shape, batch in ([] if args.no_predict else cases):
        path = os.path.join(tmp, name + ".safetensors")
        m.save(path)
        x = models.seeded_tensor("bench", shape, lo=-1, hi=1, seed=1)
        n = shape[0]
        ref = models.load(path)
        swiftcnn.set_num_threads(2)
        single = lambda: np.concatenate([ref(x[i:i + batch]) for i in range(0, n, batch)])
        want = single()
        t_single = median_time(single, args.runs)
        out = {}

        def run(workers, threads):
            out[(workers, threads)] = sr.predict(x, path, batch_size=batch, num_workers=workers,
                                                 threads_per_worker=threads)
        t21 = median_time(lambda: run(2, 1), args.runs)
        t12 = median_time(lambda: run(1, 2), args.runs)
        t_job = median_time(lambda: sr.predict(x[:batch], path, batch_size=batch, num_workers=1,
                                               threads_per_worker=2), args.runs)
        for key, y in out.items():
            assert np.array_equal(y, want), f"{name} {key}: results differ from the single-process run"
        ips = lambda t: n / t
        # Throughput without the per-call cost: the images after the first batch over the
        # time after the single-batch job (which includes that first batch).
        steady = lambda t: (n - batch) / (t - t_job) if t > t_job else float("nan")
        print(f"{name:9} {n:6d} {batch:5d}  {ips(t_single):8.1f}/s  {ips(t21):8.1f}/s  {ips(t12):8.1f}/s  "
              f"{t_single / t21:10.2f}  {t_job:10.2f} s  {steady(t21):8.1f}/s")
    if args.fit:
        bench_fit(args.runs)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    ray.shutdown()


def bench_fit(runs):
    import swiftcnn.ray as sr
    from swiftcnn import datasets

    d = datasets.load_digits()
    rng = np.random.default_rng(0)
    cases = [("lenet5", d.x_train, d.y_train, 64, 1),
             ("resnet18 32x32", rng.standard_normal((320, 3, 32, 32)).astype(np.float32),
              rng.integers(0, 10, 320), 32, 1)]
    print(f"{'training':15} {'images':>6} {'batch':>5} {'steps':>5}  {'Model.fit 2T':>12}  {'ray.fit 2x1':>12}  "
          f"{'ray/single':>10}  {'max |dw|':>9}")
    for name, x, y, batch, epochs in cases:
        def fresh():
            m = models.create(name.split()[0], num_classes=10) if name != "lenet5" else models.create("lenet5")
            m.reset_parameters(0)
            return m
        swiftcnn.set_num_threads(2)
        single, dist = {}, {}

        def one():
            single["m"] = m = fresh()
            m.fit(x, y, epochs=epochs, batch_size=batch, lr=0.01, momentum=0.9, verbose=False)

        def par():
            dist["m"] = m = fresh()
            dist["r"] = sr.fit(m, x, y, epochs=epochs, batch_size=batch, lr=0.01, momentum=0.9, num_workers=2)
        t1 = median_time(one, runs)
        t2 = median_time(par, runs)
        a, b = single["m"].state_dict(), dist["m"].state_dict()
        dw = max(float(np.abs(a[k] - b[k]).max()) for k in a)
        n = len(x) * epochs
        print(f"{name:15} {len(x):6d} {batch:5d} {dist['r'].steps:5d}  {n / t1:10.1f}/s  {n / t2:10.1f}/s  "
              f"{t1 / t2:10.2f}  {dw:9.2e}")


if __name__ == "__main__":
    main()
