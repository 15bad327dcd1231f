"""swiftcnn.ray against single-process swiftcnn: bitwise predictions (numpy and image files),
evaluate == Model.evaluate, embed's index == a single-process index, Parquet round trip,
a killed actor, a corrupt image, a corrupt model file."""
import os
import sys

import numpy as np
import pytest

pytest.importorskip("ray", reason="swiftcnn.ray tests need Ray: pip install 'swiftcnn[ray]'")

import swiftcnn
from swiftcnn import image as simage
from swiftcnn import models
from swiftcnn.retrieval import Index

import swiftcnn.ray as sr

PIL = pytest.importorskip("PIL.Image")


# ---- fixtures: small models and images ------------------------------------------------------

@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    m = models.create("lenet5")
    m.reset_parameters(seed=7)
    path = tmp_path_factory.mktemp("models") / "lenet5.safetensors"
    m.save(path)
    return str(path), m


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    m = models.create("resnet18", num_classes=10)
    path = tmp_path_factory.mktemp("models") / "resnet18.safetensors"
    m.save(path)
    return str(path), m


@pytest.fixture(scope="module")
def digits():
    x = models.seeded_tensor("digits", (90, 1, 32, 32), lo=0, hi=1, seed=3)
    y = (np.arange(90) * 7) % 10
    return x, y


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Seven RGB image files of different sizes and formats (PNG, JPEG)."""
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(5)
    paths = []
    for i, (h, w) in enumerate([(40, 50), (64, 48), (33, 33), (80, 60), (50, 70), (45, 45), (60, 90)]):
        px = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        p = d / (f"img{i}.png" if i % 2 == 0 else f"img{i}.jpg")
        PIL.fromarray(px).save(p)
        paths.append(str(p))
    return paths


def decoded(paths):
    """What the predictor feeds the model for image files: Pillow RGB, imagenet_preprocess."""
    return np.stack([simage.imagenet_preprocess(np.asarray(PIL.open(p).convert("RGB"))) for p in paths])


def by_batches(fn, x, batch_size):
    """Single-process reference: fn on x[i:i + batch_size], concatenated."""
    return np.concatenate([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def fresh(path):
    """The model file opened anew: the library picks each convolution's kernel at a model's
    first forward (partly by its batch size), so a reference starts from a fresh model whose
    first call is the first batch, as each actor's (swiftcnn.ray warms actors up that way)."""
    return models.load(path)


# ---- predictions equal single-process ones bitwise ---------------------------------------------

def test_predict_numpy_equals_single_process_bitwise(ray_cluster, lenet_file, digits):
    path, m = lenet_file
    x, _ = digits
    got = sr.predict(x, path, batch_size=16, num_workers=2)
    assert got.dtype == np.float32 and got.shape == (90, 10)
    assert np.array_equal(got, by_batches(m, x, 16))   # bitwise, input order
    assert np.array_equal(got, m(x))                   # logits do not depend on the batch split


def test_predict_topk_and_probs(ray_cluster, lenet_file, digits):
    path, m = lenet_file
    x, _ = digits
    classes, scores = sr.predict(x[:40], path, batch_size=8, output="topk", k=3, threads_per_worker=2,
                                 num_workers=1)
    probs = swiftcnn.softmax(m(x[:40]), axis=1)
    want = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    assert np.array_equal(classes, want)
    assert np.array_equal(scores, np.take_along_axis(probs, want, axis=1))
    assert np.array_equal(classes[:, 0], m.predict(x[:40]))


def test_predict_paths_and_embeddings_bitwise(ray_cluster, resnet_file, photos):
    path, m = resnet_file
    x = decoded(photos)
    got = sr.predict(photos, path, batch_size=3)
    assert np.array_equal(got, by_batches(fresh(path), x, 3))
    # Embeddings depend on the batch a row is in (the library's blocking): the helper's
    # batches are photos[i:i + 3], so they equal m.embed on those slices.
    emb = sr.predict(photos, path, batch_size=3, output="embeddings")
    assert emb.shape == (7, 512)
    assert np.array_equal(emb, by_batches(fresh(path).embed, x, 3))
    # Blocks of several batches (7 batches of 1 row for 1 worker: blocks of 2 rows), each
    # batch still run on its own: equal to embedding one image at a time.
    assert sr._block_rows(7, 1, 1) == 2
    one = sr.predict(photos, path, batch_size=1, num_workers=1, output="embeddings")
    ref = fresh(path)
    assert np.array_equal(one, by_batches(ref.embed, x, 1))


def test_predict_uint8_pixels(ray_cluster, resnet_file):
    path, m = resnet_file
    px = np.random.default_rng(1).integers(0, 256, size=(5, 30, 40, 3), dtype=np.uint8)
    got = sr.predict(px, path, batch_size=2, num_workers=1)
    assert np.array_equal(got, by_batches(fresh(path), simage.imagenet_preprocess(px), 2))


# ---- evaluate, embed -------------------------------------------------------------------------

def test_evaluate_equals_model_evaluate(ray_cluster, lenet_file, digits):
    path, m = lenet_file
    x, y = digits
    loss, acc = sr.evaluate(x, y, path, batch_size=32)
    want_loss, want_acc = m.evaluate(x, y, batch_size=32)
    assert loss == want_loss and acc == want_acc      # same batches: exactly equal
    assert 0 < loss < 10 and acc == np.mean(m.predict(x) == y)
    # A Dataset: Ray's batches; per-batch float32 rounding may differ (1e-6 relative).
    import ray.data
    ds = ray.data.from_items([{"id": i, "image": x[i], "label": int(y[i])} for i in range(len(x))])
    loss2, acc2 = sr.evaluate(ds, None, path, batch_size=25)
    assert loss2 == pytest.approx(want_loss, rel=1e-6) and acc2 == want_acc


def test_embed_index_equals_single_process(ray_cluster, lenet_file, digits, tmp_path):
    path, m = lenet_file
    x, _ = digits
    ids = np.arange(1000, 1000 + len(x), dtype=np.int64) * 3
    index_path = tmp_path / "digits.index"
    index = sr.embed(x, path, index_path, ids=ids, batch_size=30)
    ref = Index(84, metric="cosine")
    ref.add(by_batches(m.embed, x, 30), ids)
    loaded = Index.load(index_path)
    assert len(loaded) == len(x) and loaded.metric == "cosine"
    q = x[:12]
    qv = m.embed(q)
    for idx in (index, loaded):
        got_ids, got_d = idx.search(qv, k=5)
        want_ids, want_d = ref.search(qv, k=5)
        assert np.array_equal(got_ids, want_ids) and np.array_equal(got_d, want_d)
    assert set(loaded.search(qv, k=1)[0][:, 0]) <= set(ids.tolist())
    assert not [f for f in os.listdir(tmp_path) if f != "digits.index"]   # no temporary left


# ---- Dataset in, Parquet out -----------------------------------------------------------------

def test_dataset_of_paths_to_parquet(ray_cluster, resnet_file, photos, tmp_path):
    import pyarrow.parquet as pq
    import ray.data
    path, m = resnet_file
    ds = ray.data.from_items([{"id": 100 + i, "path": p} for i, p in enumerate(photos)])
    out = sr.predict(ds, path, batch_size=4, output="topk", k=2, image_column="path")
    out.write_parquet(str(tmp_path / "pred"))
    table = pq.read_table(str(tmp_path / "pred"))
    assert sorted(table.column_names) == ["classes", "error", "id", "scores"]
    ids = table.column("id").to_numpy()
    assert sorted(ids.tolist()) == list(range(100, 107))          # every id, once
    order = np.argsort(ids)
    classes = np.stack(table.column("classes").to_numpy(zero_copy_only=False))[order]
    ref = fresh(path)
    ref(np.zeros((4, 3, 224, 224), np.float32))          # the actors' warm-up: a batch of 4
    probs = swiftcnn.softmax(ref(decoded(photos)), axis=1)
    assert np.array_equal(classes, np.argsort(-probs, axis=1, kind="stable")[:, :2])
    assert all(e == "" for e in table.column("error").to_pylist())


def test_read_images_dataset_keyed_by_path(ray_cluster, resnet_file, photos):
    import ray.data
    path, _ = resnet_file
    ds = ray.data.read_images(os.path.dirname(photos[0]), include_paths=True)
    # One actor: the read tasks need the cluster's other CPU (2 actors of 1 CPU each would
    # hold both, and the reads would wait for ever).
    rows = sr.predict(ds, path, batch_size=3, id_column="path", num_workers=1).take_all()
    assert sorted(os.path.basename(r["path"]) for r in rows) == sorted(os.path.basename(p) for p in photos)
    ref = fresh(path)
    ref(np.zeros((3, 3, 224, 224), np.float32))          # the actors' warm-up: a batch of 3
    by_name = {os.path.basename(p): i for i, p in enumerate(photos)}
    # The Dataset's blocks decide the batches (of 1 to 3 rows). A fully connected layer sums
    # in one order for batches of 3 or more and in another for 1 or 2 (the same bits as one
    # image at a time), so each row is bitwise one of the two.
    want = ref(decoded(photos))
    single = np.concatenate([ref(decoded([p])) for p in photos])
    for r in rows:
        assert r["error"] == ""
        i = by_name[os.path.basename(r["path"])]
        assert np.array_equal(r["logits"], want[i]) or np.array_equal(r["logits"], single[i])


# ---- faults ---------------------------------------------------------------------------------

def test_killed_actor_run_equals_clean_run(ray_cluster, lenet_file, digits, tmp_path):
    path, m = lenet_file
    x, _ = digits
    clean = sr.predict(x, path, batch_size=10)
    marker = tmp_path / "killed"
    env = {sr.KILL_MARKER_ENV: str(marker), sr.KILL_ID_ENV: "45"}   # the batch of rows 40..49
    got = sr.predict(x, path, batch_size=10, ray_remote_args={"runtime_env": {"env_vars": env}})
    assert marker.exists()                # an actor did die on that batch
    assert np.array_equal(got, clean)     # predict checks every id came back exactly once
    # The same through a Dataset (ids kept): each id exactly once.
    import ray.data
    marker2 = tmp_path / "killed2"
    env2 = {sr.KILL_MARKER_ENV: str(marker2), sr.KILL_ID_ENV: "7"}
    ds = ray.data.from_items([{"id": i, "image": x[i]} for i in range(len(x))], override_num_blocks=9)
    rows = sr.predict(ds, path, batch_size=10, ray_remote_args={"runtime_env": {"env_vars": env2}}).take_all()
    assert marker2.exists()
    assert sorted(r["id"] for r in rows) == list(range(len(x)))
    for r in rows:
        assert np.array_equal(r["logits"], clean[r["id"]])


def test_corrupt_and_missing_images_give_error_rows(ray_cluster, resnet_file, photos, tmp_path):
    path, m = resnet_file
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(100))
    files = photos[:2] + [str(bad)] + photos[2:4] + [str(tmp_path / "missing.png")]
    got = sr.predict(files, path, batch_size=4, on_error="keep")
    good = [0, 1, 3, 4]
    # The batches are rows 0-3 and 4-5, run without their failed rows: images 0, 1, 3
    # together, then 4 alone (a batch's size picks a fully connected layer's summation order).
    model = fresh(path)
    model(np.zeros((4, 3, 224, 224), np.float32))        # the actors' warm-up: a batch of 4
    ref = np.concatenate([model(decoded([files[i] for i in (0, 1, 3)])), model(decoded([files[4]]))])
    assert np.array_equal(got[good], ref)
    assert np.isnan(got[[2, 5]]).all()
    with pytest.raises(ValueError, match=r"2 of 6 images failed.*row 2: .*row 5: "):
        sr.predict(files, path, batch_size=4)
    # Through a Dataset: the error column says why, per row.
    import ray.data
    ds = ray.data.from_items([{"id": i, "path": p} for i, p in enumerate(files)])
    rows = {r["id"]: r for r in sr.predict(ds, path, image_column="path").take_all()}
    assert sorted(rows) == list(range(6))
    assert rows[2]["error"].startswith(("UnidentifiedImageError", "OSError"))   # Pillow's words
    assert "No such file" in rows[5]["error"] or "FileNotFoundError" in rows[5]["error"]
    assert all(rows[i]["error"] == "" for i in good)


def test_corrupt_model_file_is_a_clear_error(ray_cluster, lenet_file, digits, tmp_path):
    x, y = digits
    bad = tmp_path / "broken.safetensors"
    data = bytearray(open(lenet_file[0], "rb").read())
    bad.write_bytes(bytes(data[:200]))                     # truncated
    with pytest.raises(ValueError) as e:
        sr.predict(x, str(bad))
    assert isinstance(e.value, swiftcnn.FormatError)
    with pytest.raises(swiftcnn.FormatError):
        sr.evaluate(x, y, str(bad))
    with pytest.raises(swiftcnn.FormatError):
        sr.Predictor(str(bad))                             # in an actor: its constructor fails
    # Through Ray Data directly: the actor's constructor fails, the job stops at once, and the
    # library's message reaches the driver.
    import ray.data
    ds = ray.data.from_items([{"id": i, "image": x[i]} for i in range(8)])
    with pytest.raises(Exception) as e:
        ds.map_batches(sr.Predictor, fn_constructor_kwargs={"model": str(bad)}, batch_size=4,
                       compute=ray.data.ActorPoolStrategy(size=1)).take_all()
    assert "swiftcnn.FormatError" in str(e.value) and "broken.safetensors" in str(e.value)
    with pytest.raises(OSError):
        sr.predict(x, str(tmp_path / "absent.safetensors"))
    with pytest.raises(ValueError, match="unknown|names"):
        sr.predict(x, "no_such_zoo_model")


# ---- the predictor alone, other outputs and inputs ------------------------------------------------

def test_predictor_detections_and_masks(lenet_file):
    rng = np.random.default_rng(2)
    imgs = np.empty(3, dtype=object)
    for i, (h, w) in enumerate([(40, 30), (32, 32), (20, 50)]):
        imgs[i] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    imgs[1] = np.zeros((5,), dtype=np.float64)                         # a broken row
    det = sr.Predictor("ssdlite320_mobilenet_v3_large", output="detections",
                       detect_options={"score_threshold": 0.0, "max_detections": 5})
    out = det({"id": np.array([4, 5, 6]), "image": imgs})
    ref = det.model.detect([imgs[0], imgs[2]], score_threshold=0.0, max_detections=5)
    for row, want in ((0, ref[0]), (2, ref[1])):
        assert np.array_equal(out["boxes"][row], want["boxes"]) and np.array_equal(out["labels"][row], want["labels"])
        assert out["error"][row] == ""
    assert out["boxes"][1].shape == (0, 4) and out["error"][1]
    assert list(out["id"]) == [4, 5, 6]
    seg = sr.Predictor("fcn_resnet50", output="masks")
    px = rng.integers(0, 256, size=(2, 24, 20, 3), dtype=np.uint8)
    out = seg({"id": np.array([0, 1]), "image": px})
    want = seg.model.segment(px)
    assert np.array_equal(np.stack(list(out["mask"])), want["labels"])
    assert np.array_equal(np.stack(list(out["mask_scores"])), want["scores"])


def test_predictor_bad_arguments(lenet_file):
    with pytest.raises(ValueError, match="output"):
        sr.Predictor(lenet_file[0], output="nope")
    with pytest.raises(ValueError, match="k"):
        sr.Predictor(lenet_file[0], output="topk", k=0)
    p = sr.Predictor(lenet_file[0])
    with pytest.raises(KeyError, match="image_column"):
        p({"id": np.arange(2), "pixels": np.zeros((2, 1, 32, 32), np.float32)})
    with pytest.raises(TypeError, match="numpy array, a list of image paths or a ray.data.Dataset"):
        sr.predict({"a": 1}, lenet_file[0])


def test_missing_ray_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(ImportError, match=r"swiftcnn.ray needs Ray: pip install 'swiftcnn\[ray\]'"):
        sr._ray()
