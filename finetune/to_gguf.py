"""llama.cpp formats: a merged model → GGUF (optionally quantized), or a LoRA adapter → GGUF LoRA.

Uses the conversion scripts vendored in the llama-cpp-python source distribution (fetched once from PyPI into
the cache, matching the installed version), so the default `llamacpp` backend can serve the tuned model.
python -m finetune.to_gguf merged --model runs/merged --out runs/merged-q4_k_m.gguf --quantize q4_k_m
python -m finetune.to_gguf lora --adapter runs/lora --out runs/lora.gguf
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

from rag.errors import BadInputError, ShuWenError, run_main
from rag.settings import load_settings

QUANT_TYPES = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0"}
_NEEDED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "gguf-py/", "conversion/")


def llama_cpp_scripts(cache_dir: Path) -> Path:
    """The vendored llama.cpp folder with its convert scripts; downloaded (sdist, ~75 MB) and extracted once."""
    ver = version("llama-cpp-python")
    root = Path(cache_dir) / "src" / f"llama_cpp_python-{ver}" / "vendor" / "llama.cpp"
    if (root / "convert_hf_to_gguf.py").exists() and (root / "gguf-py").is_dir():
        return root
    src = Path(cache_dir) / "src"
    src.mkdir(parents=True, exist_ok=True)
    sdist = src / f"llama_cpp_python-{ver}.tar.gz"
    if not sdist.exists():
        print(f"[gguf] fetching llama-cpp-python {ver} source for llama.cpp's convert scripts (once) …", file=sys.stderr)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            f"llama-cpp-python=={ver}", "-d", str(src)], capture_output=True, text=True)
        if r.returncode or not sdist.exists():
            raise ShuWenError(f"cannot download the llama-cpp-python {ver} source: {(r.stderr or '').strip()[-200:]}")
    prefix = f"llama_cpp_python-{ver}/vendor/llama.cpp/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)
                   and any(m.name[len(prefix):].startswith(n) for n in _NEEDED)]
        tar.extractall(src, members=members, filter="data")
    return root


def _run(script: str, args: list[str], cache_dir: Path) -> None:
    root = llama_cpp_scripts(cache_dir)
    # the scripts must use their own gguf-py (matching the vendored llama.cpp), not whatever gguf is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "gguf-py"), str(root)]), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(root / script), *args], capture_output=True, text=True, env=env)
    if r.returncode:
        tail = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()][-1:] or ["no output"]
        raise ShuWenError(f"{script} failed: {tail[0][:300]}")


def quantize(src: Path, out: Path, kind: str = "q4_k_m") -> Path:
    """Quantize a GGUF with llama.cpp's own quantizer (through llama-cpp-python's C API)."""
    import llama_cpp

    if kind not in QUANT_TYPES:
        raise BadInputError(f"quantize type must be one of {', '.join(QUANT_TYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[kind])
    params.nthread = os.cpu_count() or 1
    if llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), params) != 0:
        raise ShuWenError(f"quantizing {src} to {kind} failed")
    return out


def merged_to_gguf(model: Path, out: Path, outtype: str = "f16", quant: str = "", cache_dir: Path | None = None) -> Path:
    """A merged HF folder → one GGUF file for the llamacpp backend (`chat_model` = its path)."""
    model, out = Path(model), Path(out)
    if not (model / "config.json").is_file():
        raise BadInputError(f"{model} is not a HF model folder (no config.json); merge the adapter first")
    cache_dir = cache_dir or load_settings().cache_dir
    out.parent.mkdir(parents=True, exist_ok=True)
    if not quant:
        _run("convert_hf_to_gguf.py", [str(model), "--outfile", str(out), "--outtype", outtype], cache_dir)
        return out
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        full = Path(tmp) / "full.gguf"
        _run("convert_hf_to_gguf.py", [str(model), "--outfile", str(full), "--outtype", outtype], cache_dir)
        return quantize(full, out, quant)


def lora_to_gguf(adapter: Path, out: Path, base: str | None = None, outtype: str = "f16",
                 cache_dir: Path | None = None) -> Path:
    """A peft LoRA folder → a GGUF LoRA for the llamacpp backend (`lora_gguf` setting) over the same base."""
    from finetune.merge import adapter_base
    from finetune.train import resolve_base

    adapter, out = Path(adapter), Path(out)
    base_dir = resolve_base(base) if base else adapter_base(adapter)
    if not (Path(base_dir) / "config.json").is_file():
        raise BadInputError(f"the base model {base_dir} must be a local HF folder (its config names the tensors)")
    out.parent.mkdir(parents=True, exist_ok=True)
    _run("convert_lora_to_gguf.py", [str(adapter), "--base", str(base_dir), "--outfile", str(out), "--outtype", outtype],
         cache_dir or load_settings().cache_dir)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.to_gguf", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("merged", help="merged HF folder → GGUF", description=merged_to_gguf.__doc__)
    m.add_argument("--model", type=Path, required=True, help="merged model folder (finetune.merge --out)")
    m.add_argument("--outtype", default="f16", choices=["f32", "f16", "bf16", "q8_0"], help="conversion type (default f16)")
    m.add_argument("--quantize", default="", choices=["", *QUANT_TYPES], help="then quantize, e.g. q4_k_m like the bundled model")
    lo = sub.add_parser("lora", help="peft LoRA adapter → GGUF LoRA", description=lora_to_gguf.__doc__)
    lo.add_argument("--adapter", type=Path, required=True, help="peft LoRA folder (finetune.train --output-dir)")
    lo.add_argument("--base", help="base HF folder (default: recorded in the adapter; 'bundled' works)")
    lo.add_argument("--outtype", default="f16", choices=["f32", "f16", "bf16", "q8_0"], help="tensor type (default f16)")
    for x in (m, lo):
        x.add_argument("--out", type=Path, required=True, help="output .gguf file")
    args = p.parse_args(argv)

    def body() -> int:
        print(f"[gguf] {vars(args)}", file=sys.stderr)
        if args.what == "merged":
            out = merged_to_gguf(args.model, args.out, args.outtype, args.quantize)
            print(f"[gguf] serve it: SHUWEN_CHAT_MODEL={out}", file=sys.stderr)
        else:
            out = lora_to_gguf(args.adapter, args.out, args.base, args.outtype)
            print(f"[gguf] serve it over the bundled model: SHUWEN_LORA_GGUF={out}", file=sys.stderr)
        print(out)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
