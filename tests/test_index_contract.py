"""Every backend passes the same contract (mgw/testing/index_contract.py)."""
from mgw.testing.index_contract import IndexContract


class TestExact(IndexContract):
    backend = "exact"
    min_recall = 1.0


class TestHnswlib(IndexContract):
    backend = "hnswlib"
    build_params = {"M": 16, "efConstruction": 100}
    min_recall = 0.95


class TestFaissHnswFlat(IndexContract):
    backend = "faiss"
    build_params = {"factory": "HNSW16,Flat"}
    min_recall = 0.95


class TestFaissIvfFlat(IndexContract):
    backend = "faiss"
    build_params = {"factory": "IVF8,Flat"}
    min_recall = 0.9


class TestFaissHnswSq8(IndexContract):
    backend = "faiss"
    build_params = {"factory": "HNSW16,SQ8"}
    min_recall = 0.9


class TestAnnoy(IndexContract):
    backend = "annoy"
    build_params = {"n_trees": 30}
    query_params = {"search_k": 3000}
    min_recall = 0.9
