"""swiftcnn.retrieval.Index against a numpy brute-force search (cosine and L2, ids, k past the
count, ties, save/load, bad input) and Model.embed against the named-output forward."""
import threading

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models
from swiftcnn.retrieval import Index, precision_at_k


def brute_force(db, queries, k, metric):
    """numpy in float64: (ids, scores) best first, ties by position; -1 / NaN past the count."""
    db = np.asarray(db, np.float64)
    q = np.asarray(queries, np.float64)
    if metric == "cosine":
        def unit(a):
            n = np.linalg.norm(a, axis=1, keepdims=True)
            return a / np.where(n > 0, n, 1)
        s = unit(q) @ unit(db).T
        key = -s
    else:
        s = ((q[:, None, :] - db[None, :, :]) ** 2).sum(-1)
        key = s
    ids = np.full((len(q), k), -1, np.int64)
    scores = np.full((len(q), k), np.nan)
    for r in range(len(q)):
        order = np.lexsort((np.arange(len(db)), key[r]))[:k]
        ids[r, :len(order)] = order
        scores[r, :len(order)] = s[r, order]
    return ids, scores


def check_same(ids, scores, want_ids, want_scores, tol):
    """Same ids, except neighbours whose scores are within tol may swap; scores within tol."""
    assert ids.shape == want_ids.shape and ids.dtype == np.int64 and scores.dtype == np.float32
    past = want_ids == -1
    assert np.array_equal(ids == -1, past)
    assert np.all(np.isnan(scores[past]))
    np.testing.assert_allclose(scores[~past], want_scores[~past], atol=tol, rtol=0)
    for r, c in zip(*np.nonzero((ids != want_ids) & ~past)):
        assert ids[r, c] in want_ids[r], (r, c)
        assert abs(want_scores[r, c] - scores[r, c]) <= tol


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("n,d", [(1, 1), (7, 3), (100, 16), (1000, 84), (3000, 5)])
def test_search_matches_numpy(metric, n, d):
    rng = np.random.default_rng(n * 31 + d)
    db = rng.standard_normal((n, d)).astype(np.float32)
    q = rng.standard_normal((37, d)).astype(np.float32)
    index = Index(d, metric)
    index.add(db)
    assert len(index) == n and index.dimension == d and index.metric == metric
    for k in sorted({1, 5, n, n + 2}):
        ids, scores = index.search(q, k=k)
        want_ids, want_scores = brute_force(db, q, k, metric)
        tol = 1e-5 * d if metric == "cosine" else 1e-4 * d
        check_same(ids, scores, want_ids, want_scores, tol)


def test_caller_ids_and_running_numbers():
    index = Index(2, "l2")
    index.add(np.array([[0, 0], [10, 0]], np.float32), ids=[700, 900])
    index.add(np.array([[1, 0]], np.float32))        # gets 2: two vectors were added before it
    ids, scores = index.search([0.9, 0], k=3)
    assert ids.tolist() == [[2, 700, 900]]
    np.testing.assert_allclose(scores[0], [0.01, 0.81, 82.81], rtol=1e-5)
    assert index.remove([700]) == 1
    assert len(index) == 2
    ids, _ = index.search([0, 0], k=3)
    assert ids.tolist() == [[2, 900, -1]]


def test_ties_in_insertion_order_and_k_past_count():
    index = Index(3, "cosine")
    index.add(np.tile(np.array([[1, 2, 3]], np.float32), (6, 1)), ids=[50, 40, 30, 20, 10, 0])
    index.add(np.zeros((1, 3), np.float32), ids=[99])   # zero vector: similarity 0
    ids, scores = index.search(np.array([[2, 4, 6]], np.float32), k=9)
    assert ids.tolist() == [[50, 40, 30, 20, 10, 0, 99, -1, -1]]
    np.testing.assert_allclose(scores[0, :6], 1, atol=1e-6)
    assert scores[0, 6] == 0 and np.isnan(scores[0, 7:]).all()
    empty = Index(3)
    ids, scores = empty.search(np.ones((2, 3)), k=2)
    assert (ids == -1).all() and np.isnan(scores).all()


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    for metric in ("cosine", "l2"):
        index = Index(8, metric)
        index.add(rng.standard_normal((50, 8)), ids=np.arange(50) * 3 + 5)
        index.add(rng.standard_normal((4, 8)))
        path = tmp_path / f"{metric}.safetensors"
        index.save(path)
        back = Index.load(path)
        assert isinstance(back, Index) and back.metric == metric and len(back) == 54 and back.dimension == 8
        q = rng.standard_normal((5, 8))
        a, b = index.search(q, 10), back.search(q, 10)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        # the file is plain safetensors: vectors F32 [54, 8], ids I64 [54]
        raw = path.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        header = raw[8:8 + n].decode()
        assert '"format":"swiftcnn-retrieval-index"' in header.replace(" ", "")
        assert '"I64"' in header and '"F32"' in header
    # running numbers continue after a load
    index = Index(1, "l2")
    index.add([[1.0], [2.0]])
    index.save(tmp_path / "run.safetensors")
    back = Index.load(tmp_path / "run.safetensors")
    back.add([[3.0]])
    assert back.search([[3.0]], k=1)[0].tolist() == [[2]]


def test_bad_input_raises(tmp_path):
    index = Index(3, "l2")
    with pytest.raises(ValueError, match="non-finite"):
        index.add(np.array([[0, 0, 0], [np.nan, 0, 0]]))
    assert len(index) == 0
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        index.add(np.ones((2, 4)))
    with pytest.raises(ValueError, match="ids must be >= 0"):
        index.add(np.ones((1, 3)), ids=[-5])
    with pytest.raises(ValueError, match="expected 2 ids"):
        index.add(np.ones((2, 3)), ids=[1])
    with pytest.raises(TypeError):
        index.add(np.ones((1, 3)), ids=[1.5])
    index.add(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        index.search(np.array([[np.inf, 0, 0]]), k=1)
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.ones(3), k=0)
    with pytest.raises(ValueError, match="metric"):
        Index(3, "dot")
    with pytest.raises(ValueError, match="dimension"):
        Index(0)
    with pytest.raises(OSError):
        Index.load(tmp_path / "missing.safetensors")
    swiftcnn.write_safetensors(str(tmp_path / "w.safetensors"), {"x": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="not a retrieval index"):
        Index.load(tmp_path / "w.safetensors")
    with pytest.raises(TypeError):
        index.search(np.array([["a", "b", "c"]]), k=1)


def test_search_from_threads():
    rng = np.random.default_rng(3)
    index = Index(16, "cosine")
    index.add(rng.standard_normal((2000, 16)))
    q = rng.standard_normal((64, 16)).astype(np.float32)
    want = index.search(q, 7)
    results = []

    def work():
        results.append(index.search(q, 7))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ids, scores in results:
        assert np.array_equal(ids, want[0]) and np.array_equal(scores, want[1])


def test_embed_default_is_penultimate():
    model = models.lenet5()
    x = np.random.default_rng(0).standard_normal((70, 1, 32, 32)).astype(np.float32)
    e = model.embed(x, batch_size=32)
    assert e.shape == (70, 84) and e.dtype == np.float32
    want = model.forward(x, outputs=["classifier.1"])["classifier.1"]
    np.testing.assert_array_equal(e, want)
    f = model.embed(x, node="features", normalize=True)
    assert f.shape == (70, 120)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1, rtol=1e-5)
    g = model.embed(x[:3], node="features.0")
    assert g.shape == (3, 6 * 28 * 28)
    with pytest.raises(ValueError, match="no node named"):
        model.embed(x, node="nope")
    with pytest.raises(ValueError):
        model.embed(np.ones((2, 3, 32, 32), np.float32))


def test_embed_without_linear_needs_a_node():
    model = swiftcnn.Model(swiftcnn.nn.Sequential(swiftcnn.nn.Conv2d(1, 2, 3), swiftcnn.nn.ReLU()), input_shape=[1, 8, 8])
    with pytest.raises(ValueError, match="no linear layer"):
        model.embed(np.ones((1, 1, 8, 8), np.float32))
    assert model.embed(np.ones((1, 1, 8, 8), np.float32), node=model.node_names()[-1]).shape == (1, 72)


def test_precision_at_k():
    assert precision_at_k([[1, 1, 2], [3, 0, 0]], [1, 0]) == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert precision_at_k([[1, 1, 2]], [1], k=2) == 1.0
    with pytest.raises(ValueError):
        precision_at_k([[1]], [1, 2])
