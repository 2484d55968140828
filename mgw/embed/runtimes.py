"""The two ways to run the model: sentence-transformers on torch (the reference) and ONNX Runtime (the
default: the same graph exported once, with fused attention, optionally int8). Both take a list of texts
and return unit-norm float32 [n, dim]; threads are pinned from params."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mgw.embed.model import resolve_model_path

RUNTIMES = ("onnx", "torch")
# What reports call each configuration: label → (embed.runtime, embed.quantize)
LABELS = {"torch": ("torch", "none"), "onnx": ("onnx", "none"), "onnx-int8": ("onnx", "int8")}


def runtime_label(runtime: str, quantize: str) -> str:
    return "torch" if runtime == "torch" else ("onnx" if quantize == "none" else f"onnx-{quantize}")


class TorchRuntime:
    name = "torch"

    def __init__(self, model: str, batch_size: int = 32, threads: int = 2, show_progress: bool = False):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.batch_size, self.show_progress = batch_size, show_progress
        self.st = SentenceTransformer(resolve_model_path(model), device="cpu")
        self.dim = int(self.st.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs = self.st.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=self.show_progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)


class OnnxRuntime:
    """ONNX Runtime session over the exported model; the model's own fast tokenizer (tokenizers, Rust) with
    the sentence-transformers truncation length. Batches are formed from texts sorted by token count so
    padding stays small (sentence-transformers does the same)."""

    name = "onnx"

    def __init__(self, model: str, cache_dir: str | Path, quantize: str = "none", batch_size: int = 32,
                 threads: int = 2, show_progress: bool = False):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from mgw.embed.onnx_export import exported_model

        path, meta = exported_model(model, cache_dir, quantize)
        self.meta, self.quantize = meta, quantize
        self.batch_size, self.show_progress = batch_size, show_progress
        self.dim = int(meta["dim"])
        tok = Tokenizer.from_file(str(Path(resolve_model_path(model)) / "tokenizer.json"))
        tok.enable_truncation(max_length=int(meta["max_seq_length"]))
        tok.no_padding()
        self.tokenizer = tok
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared cores: block, don't spin
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1:  # the query path: no sorting, no batching
            return np.ascontiguousarray(self._run([self.tokenizer.encode(texts[0])]), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if self.show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="embed (onnx)", leave=False)
        for s in starts:
            rows = order[s:s + self.batch_size]
            out[rows] = self._run([encodings[i] for i in rows])
        return out


def make_runtime(runtime: str, model: str, *, onnx_dir: str | Path, quantize: str = "none", batch_size: int = 32,
                 threads: int = 2, show_progress: bool = False) -> TorchRuntime | OnnxRuntime:
    from mgw.errors import DataError

    if runtime == "torch":
        return TorchRuntime(model, batch_size, threads, show_progress)
    if runtime == "onnx":
        return OnnxRuntime(model, onnx_dir, quantize, batch_size, threads, show_progress)
    raise DataError(f"embed.runtime must be one of {RUNTIMES}, got {runtime!r}")
