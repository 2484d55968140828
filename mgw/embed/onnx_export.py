"""Export a sentence-transformers model (mean pooling + normalisation) to ONNX once, offline, cached by the
weights' hash; optionally int8 dynamic quantisation.

Cache layout: `<cache_dir>/<key>/model.onnx` (fp32, with onnxruntime's BERT fusions: Attention,
SkipLayerNormalization, BiasGelu, EmbedLayerNormalization), `model.int8.onnx` (per-channel QInt8 weights,
made on first request) and `meta.json` (the key's inputs and each file's sha256, checked on load). The key
hashes the model files, this exporter's version and the torch/onnxruntime versions that produced it.
Writes go to a temporary folder renamed into place, so a crash or a concurrent export never leaves half a
model behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from mgw.embed.model import resolve_model_path, weights_hash
from mgw.errors import CorruptFileError, NotSupportedError

EXPORT_VERSION = 1  # bump when the exported graph changes
OPSET = 17
QUANTIZE = ("none", "int8")
FILES = {"none": "model.onnx", "int8": "model.int8.onnx"}


def cache_key(model_dir: str) -> str:
    import onnxruntime
    import torch

    src = json.dumps([weights_hash(model_dir), EXPORT_VERSION, OPSET, torch.__version__, onnxruntime.__version__])
    return hashlib.sha256(src.encode()).hexdigest()[:20]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pooled_module(model_dir: str) -> tuple[Any, dict[str, Any]]:
    """The transformer with mean pooling and L2 normalisation in one torch module (what the torch path
    computes in three sentence-transformers modules), plus its shape facts."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device="cpu", model_kwargs={"attn_implementation": "eager"})
    kinds = [type(m).__name__ for m in st]
    if kinds[:2] != ["Transformer", "Pooling"] or getattr(st[1], "pooling_mode", "mean") != "mean":
        raise NotSupportedError(f"onnx export handles transformer + mean pooling (+ Normalize) models, got {kinds}; "
                                f"use embed.runtime: torch")
    normalize = "Normalize" in kinds
    bert = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1) if normalize else pooled

    cfg = bert.config
    return Pooled().eval(), {"max_seq_length": int(st.max_seq_length), "num_heads": int(cfg.num_attention_heads),
                             "hidden_size": int(cfg.hidden_size), "dim": int(st.get_embedding_dimension()),
                             "normalize": normalize}


def _export_fp32(model_dir: str, out: Path) -> dict[str, Any]:
    import torch
    from onnxruntime.transformers import optimizer

    module, facts = _pooled_module(model_dir)
    ids = torch.ones(2, 16, dtype=torch.long)
    raw = out / "raw.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings are about control flow
        # that does not apply to this graph (checked: the agreement test runs varying batch and sequence sizes)
        torch.onnx.export(module, (ids, torch.ones_like(ids)), str(raw), input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "embedding": {0: "batch"}})
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=facts["num_heads"],
                                     hidden_size=facts["hidden_size"], opt_level=1)
    fused.save_model_to_file(str(out / FILES["none"]))
    raw.unlink()
    return {**facts, "fused_operators": {k: v for k, v in fused.get_fused_operator_statistics().items() if v}}


def _quantize(out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(out / FILES["none"]), str(out / FILES["int8"]), weight_type=QuantType.QInt8,
                     per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def exported_model(model: str, cache_dir: str | Path, quantize: str = "none") -> tuple[Path, dict[str, Any]]:
    """Path of the ONNX model for `model` (exported on first use) and its meta. quantize: none | int8."""
    if quantize not in QUANTIZE:
        raise NotSupportedError(f"embed.quantize must be one of {QUANTIZE}, got {quantize!r}")
    model_dir = resolve_model_path(model)
    key = cache_key(model_dir)
    final = Path(cache_dir) / key
    if not (final / "meta.json").exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}."))
        try:
            facts = _export_fp32(model_dir, tmp)
            meta = {"key": key, "model": model, "weights_sha256": weights_hash(model_dir), **facts,
                    "export_version": EXPORT_VERSION, "opset": OPSET,
                    "files": {FILES["none"]: _sha256(tmp / FILES["none"])}}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
            try:
                os.replace(tmp, final)
            except OSError:  # another process finished the same export first: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    meta = json.loads((final / "meta.json").read_text())
    name = FILES[quantize]
    if name not in meta["files"]:
        tmp = Path(tempfile.mkdtemp(dir=final, prefix=".q."))
        try:
            shutil.copy(final / FILES["none"], tmp / FILES["none"])
            _quantize(tmp)
            digest = _sha256(tmp / name)
            os.replace(tmp / name, final / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        meta["files"][name] = digest
        meta_tmp = final / f".meta.{os.getpid()}.json"
        meta_tmp.write_text(json.dumps(meta, indent=2))
        os.replace(meta_tmp, final / "meta.json")
    if _sha256(final / name) != meta["files"][name]:
        raise CorruptFileError(f"{final / name}: checksum does not match {final / 'meta.json'} "
                               f"(delete {final} to re-export)")
    return final / name, meta
