#!/usr/bin/env python3
"""Retrieval search speed: swiftcnn.retrieval.Index vs the same exact search in numpy.

    .venv/bin/python scripts/bench_retrieval.py [--threads 2] [--runs 7]

For each case (database N x D, Q queries, top-k) both do the same exact search: swiftcnn's
Index.search (blocked GEMM + heap top-k, the GIL released) and numpy (one Q x N score matrix
by BLAS matmul, then argpartition + argsort of the k best per row: the usual brute force).
numpy's BLAS thread count is pinned to --threads with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
before numpy is imported, and swiftcnn runs with the same count. Each figure is the median of
--runs timed runs after one warm-up run; the two alternate run by run so both see the same
machine load. Also checks that the two agree (ids, except near-ties). Prints a table; not a
test (it times things).
"""
import argparse
import os
import statistics
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="small cases only")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import swiftcnn
    from swiftcnn.retrieval import Index

    swiftcnn.set_num_threads(args.threads)
    cases = [(10_000, 84, 100, 5), (10_000, 512, 100, 10), (100_000, 128, 1, 10), (100_000, 128, 10, 10),
             (100_000, 128, 100, 10), (100_000, 128, 1000, 10)]
    if args.quick:
        cases = cases[:2]
    rng = np.random.default_rng(0)
    print(f"exact cosine search, {args.threads} thread(s), median of {args.runs} runs")
    print(f"{'N':>8} {'D':>5} {'Q':>5} {'k':>3}   {'swiftcnn ms':>11} {'numpy ms':>9} {'numpy/swiftcnn':>15}")
    for n, d, q, k in cases:
        db = rng.standard_normal((n, d)).astype(np.float32)
        queries = rng.standard_normal((q, d)).astype(np.float32)
        index = Index(d, "cosine")
        index.add(db)
        unit_db = db / np.linalg.norm(db, axis=1, keepdims=True)

        def ours():
            return index.search(queries, k)

        def numpy_search():
            u = queries / np.linalg.norm(queries, axis=1, keepdims=True)
            s = u @ unit_db.T
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(s, part, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            return np.take_along_axis(part, order, axis=1), np.take_along_axis(top, order, axis=1)

        a, b = ours(), numpy_search()
        agree = np.mean(a[0] == b[0])
        t_ours, t_np = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter(); ours(); t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); numpy_search(); t_np.append(time.perf_counter() - t0)
        mo, mn = statistics.median(t_ours) * 1000, statistics.median(t_np) * 1000
        print(f"{n:>8} {d:>5} {q:>5} {k:>3}   {mo:>11.2f} {mn:>9.2f} {mn / mo:>15.2f}   (ids agree: {100 * agree:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
