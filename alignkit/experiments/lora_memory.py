""""LoRA + DPO fits a single consumer GPU (8-24 GB)", measured on stand-ins and extrapolated by accounting.

Each run trains DPO for a few steps on a stand-in (`alignkit.core.standin`) in a fresh subprocess and reports
its PEAK RESIDENT MEMORY above the baseline taken just before the models are built (Linux: the peak
is reset through /proc/self/clear_refs and read from VmHWM; elsewhere ru_maxrss). Full DPO keeps a policy,
a frozen reference copy, gradients and AdamW's two moments; LoRA DPO keeps one backbone (the reference is
the backbone with adapters off) plus small adapters and their gradients and moments.

A straight line peak = c + b x parameters is fitted per mode; its slope b is compared with the per-parameter
accounting below, and the accounting (in half precision, as on a GPU) predicts 1B, 7B and 8B models.
QLoRA is arithmetic only: bitsandbytes' 4-bit layers need a GPU.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass

__all__ = ["REFERENCE_MODELS", "ArchShape", "parameter_counts", "bytes_per_parameter", "predict", "measure_run",
           "fit_line", "lora_memory", "smollm2_memory"]

LORA_R = 16  # adapters of rank 16 on every linear layer (lora.ATTENTION_AND_MLP), in every prediction too


@dataclass(frozen=True)
class ArchShape:
    """The shape numbers of a Llama/Qwen/Mistral-style decoder (from each model's public config.json)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool


REFERENCE_MODELS = {
    "1B (Llama-3.2-1B)": ArchShape(2048, 16, 32, 8, 8192, 128256, tied=True),
    "7B (Mistral-7B)": ArchShape(4096, 32, 32, 8, 14336, 32000, tied=False),
    "8B (Llama-3.1-8B)": ArchShape(4096, 32, 32, 8, 14336, 128256, tied=False),
}


def parameter_counts(shape: ArchShape, r: int = LORA_R) -> dict[str, int]:
    """Parameters of the whole model, of its embeddings (+ untied LM head), and of rank-r adapters on every linear."""
    head_dim = shape.hidden // shape.heads
    kv = shape.kv_heads * head_dim
    linears = [(shape.hidden, shape.hidden), (shape.hidden, kv), (shape.hidden, kv), (shape.hidden, shape.hidden),
               (shape.hidden, shape.intermediate), (shape.hidden, shape.intermediate),
               (shape.intermediate, shape.hidden)]  # q, k, v, o, gate, up, down as (in, out)
    embeddings = shape.vocab * shape.hidden * (1 if shape.tied else 2)
    per_layer = sum(i * o for i, o in linears) + 2 * shape.hidden  # + two RMSNorm weights
    return {"total": embeddings + shape.layers * per_layer + shape.hidden, "embeddings": embeddings,
            "adapters": shape.layers * sum(r * (i + o) for i, o in linears)}


def bytes_per_parameter(precision: str) -> dict[str, dict[str, float]]:
    """The accounting: bytes per backbone parameter and per adapter parameter, by component.

    fp32 (this CPU): everything float32. bf16/fp16 (GPU, Trainer's mixed precision): the trained weights keep a
    float32 master copy with float32 gradients and AdamW moments; frozen weights (the reference, a LoRA backbone)
    are held in half precision. qlora: the frozen backbone in 4-bit NF4 with double quantisation (0.5 byte plus
    about 0.127 bit of constants per weight), embeddings and LM head left in bf16 (see `predict`).
    """
    half = precision in ("bf16", "fp16")
    frozen = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "qlora": 0.5 + 0.127 / 8}[precision]
    trained = {"weights": 4.0, "gradients": 4.0, "adam_moments": 8.0}  # float32 in every case
    return {"full": trained | {"reference": 2.0 if half else 4.0},
            "lora": {"backbone": frozen}, "adapter": trained}


def predict(shape: ArchShape, precision: str, activations_gb: float = 2.0, overhead_gb: float = 1.0) -> dict:
    """Predicted peak GB of full DPO and LoRA DPO for one model: the accounting, plus `activations_gb` (one pair
    of 1,024-token sequences with gradient checkpointing, logits included) and `overhead_gb` (CUDA context,
    allocator slack), both assumptions stated in the result."""
    counts, per = parameter_counts(shape), bytes_per_parameter(precision)
    backbone = counts["total"] * per["lora"]["backbone"]
    if precision == "qlora":  # bitsandbytes quantises the linear layers only
        backbone += counts["embeddings"] * (2.0 - per["lora"]["backbone"])
    lora = backbone + counts["adapters"] * sum(per["adapter"].values())
    extra = (activations_gb + overhead_gb) * 1e9
    out = {"parameters_b": round(counts["total"] / 1e9, 2), "adapter_parameters_m": round(counts["adapters"] / 1e6, 1),
           "lora_dpo_gb": round((lora + extra) / 1e9, 1)}
    if precision != "qlora":
        out["full_dpo_gb"] = round((counts["total"] * sum(per["full"].values()) + extra) / 1e9, 1)
    return out


# --- measuring on stand-ins ------------------------------------------------------------------------


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # Linux >= 4.0: resets VmHWM, the peak resident set size
        return True
    except OSError:
        return False


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def _models_for(size: str, mode: str):
    """(model, reference or None, tokenizer): a stand-in of `size`, or SmolLM2 (size "smollm2", already built)."""
    if size == SMOLLM2:
        from alignkit import zoo
        from alignkit.core.smollm2 import default_dir

        model, tokenizer = zoo.load(default_dir())
        return model, zoo.load(default_dir())[0] if mode == "full" else None, tokenizer
    from alignkit.core.standin import STANDIN_SIZES, standin_model, train_chatml_tokenizer

    config = STANDIN_SIZES[size]
    tokenizer = train_chatml_tokenizer([f"question {i} answer {i * 7} " * 4 for i in range(200)], config.vocab_size)
    model = standin_model(config)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, standin_model(config) if mode == "full" else None, tokenizer  # the same seed: the same weights


def _child(size: str, mode: str, steps: int) -> dict:
    """One run, in this (fresh) process: build the models, train DPO `steps` steps, report peak memory."""
    from alignkit.methods.dpo import DPOSettings, train_dpo
    from alignkit.core.lora import LoraSettings
    from alignkit.core.models import count_parameters
    from alignkit.core.profiles import setup

    setup(threads=1)
    rows = [{"prompt": f"What is {i} plus {i}?", "chosen": f"It is {2 * i}.", "rejected": f"Maybe {i}."}
            for i in range(steps * 2)]
    settings = DPOSettings(batch_size=2, max_length=64, warmup_steps=0, epochs=1.0,
                           lora=LoraSettings(r=LORA_R) if mode == "lora" else None)
    exact = _reset_peak()
    baseline = _rss_bytes("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model, ref_model, tokenizer = _models_for(size, mode)
    parameters = count_parameters(model)
    train_dpo(model, ref_model, tokenizer, rows, settings)
    peak = _rss_bytes("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"size": size, "mode": mode, "parameters": parameters, "peak_delta_bytes": peak - baseline,
            "method": "VmHWM after clear_refs" if exact else "ru_maxrss"}


def measure_run(size: str, mode: str, steps: int = 2) -> dict:
    """One measurement in a fresh Python process, so no run sees another's allocations."""
    command = [sys.executable, "-m", "alignkit.experiments.lora_memory", size, mode, str(steps)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env=os.environ | {"TQDM_DISABLE": "1", "TRL_EXPERIMENTAL_SILENCE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"memory run {size}/{mode} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares y = a + b x: (a, b)."""
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - b * mean_x, b


def _fitted(runs: list[dict], mode: str) -> dict:
    mine = [r for r in runs if r["mode"] == mode]
    intercept, slope = fit_line([r["parameters"] for r in mine], [r["peak_delta_bytes"] for r in mine])
    return {"bytes_per_parameter": round(slope, 2), "intercept_mb": round(intercept / 1e6, 1)}


def lora_memory(sizes: tuple[str, ...] = ("xs", "s", "m", "l"), steps: int = 2) -> dict:
    """Measure full vs LoRA DPO on each stand-in size, fit bytes per parameter, predict 1B/7B/8B models."""
    from alignkit.core.standin import STANDIN_SIZES

    runs = [measure_run(size, mode, steps) for size in sizes for mode in ("full", "lora")]
    table = [{"size": s, "parameters_m": round(full["parameters"] / 1e6, 2),
              "full_dpo_peak_mb": round(full["peak_delta_bytes"] / 1e6, 1),
              "lora_dpo_peak_mb": round(lora["peak_delta_bytes"] / 1e6, 1),
              "lora_over_full": round(lora["peak_delta_bytes"] / full["peak_delta_bytes"], 3),
              "config": asdict(STANDIN_SIZES[s])}
             for s, full, lora in zip(sizes, runs[0::2], runs[1::2])]
    fp32 = bytes_per_parameter("fp32")
    largest = parameter_counts(_shape_of(STANDIN_SIZES[sizes[-1]]))
    adapter_share = largest["adapters"] / largest["total"]  # adapter parameters per backbone parameter
    predictions = {name: {"bf16 or fp16": predict(shape, "bf16"), "qlora 4-bit": predict(shape, "qlora")}
                   for name, shape in REFERENCE_MODELS.items()}
    return {"measured_with": runs[0]["method"] + " (peak resident memory above the baseline before the models "
                                                 "are built, float32 on CPU, batch 2 pairs, <= 64 tokens)",
            "lora": f"rank {LORA_R} on q,k,v,o,gate,up,down; reference = backbone with adapters off",
            "table": table,
            "fitted_fp32": {"full": _fitted(runs, "full"), "lora": _fitted(runs, "lora")},
            "accounting_fp32": {"full": sum(fp32["full"].values()),
                                "lora": round(fp32["lora"]["backbone"] + adapter_share * sum(fp32["adapter"].values()), 2)},
            "accounting_bytes_per_parameter": {p: bytes_per_parameter(p) for p in ("fp32", "bf16", "qlora")},
            "prediction_assumptions": "peak GB = accounting + 2 GB activations (one 1,024-token pair, gradient "
                                      "checkpointing, logits) + 1 GB CUDA context and allocator slack",
            "predictions_gb": predictions,
            "smallest_consumer_gpu_gb": _smallest_gpus(predictions),
            "largest_lora_over_full": table[-1]["lora_over_full"]}


SMOLLM2 = "smollm2"


def smollm2_memory(steps: int = 2) -> dict:
    """Full against LoRA DPO on SmolLM2-135M-Instruct (built by `core.smollm2.build_smollm2`), each in a fresh
    subprocess, measured as on the stand-ins, beside what the per-parameter accounting says for it."""
    from alignkit.core.smollm2 import build_smollm2

    build_smollm2()  # once, here, so neither measured child builds it
    full, lora = (measure_run(SMOLLM2, mode, steps) for mode in ("full", "lora"))
    fp32 = bytes_per_parameter("fp32")
    return {"measured_with": full["method"] + " (peak resident memory above the baseline before the models are "
                                              "loaded, float32 on CPU, batch 2 pairs, <= 64 tokens)",
            "lora": f"rank {LORA_R} on q,k,v,o,gate,up,down; reference = backbone with adapters off",
            "parameters_m": round(full["parameters"] / 1e6, 2),
            "full_dpo_peak_mb": round(full["peak_delta_bytes"] / 1e6, 1),
            "lora_dpo_peak_mb": round(lora["peak_delta_bytes"] / 1e6, 1),
            "lora_over_full": round(lora["peak_delta_bytes"] / full["peak_delta_bytes"], 3),
            "accounting_full_mb": round(full["parameters"] * sum(fp32["full"].values()) / 1e6, 1),
            "accounting_lora_backbone_mb": round(full["parameters"] * fp32["lora"]["backbone"] / 1e6, 1)}


CONSUMER_GPUS_GB = (8, 12, 16, 24)  # the claim's range: RTX 3060/4060 (8-12), 4060 Ti/4080 (16), 3090/4090 (24)


def _smallest_gpus(predictions: dict) -> dict:
    """For each model and setup, the smallest consumer GPU (GB) its predicted peak fits, or "none <= 24 GB"."""
    def smallest(gb: float):
        return next((size for size in CONSUMER_GPUS_GB if gb <= size), "none <= 24 GB")

    return {name: {f"{precision} {key.removesuffix('_gb')}": smallest(gb) for precision, row in by_precision.items()
                   for key, gb in row.items() if key.endswith("_dpo_gb")}
            for name, by_precision in predictions.items()}


def _shape_of(config) -> ArchShape:
    return ArchShape(config.hidden_size, config.num_layers, config.num_heads, config.num_kv_heads,
                     config.intermediate_size, config.vocab_size, config.tie_word_embeddings)


if __name__ == "__main__":  # the child process of measure_run
    print(json.dumps(_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
