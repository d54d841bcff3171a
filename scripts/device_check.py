"""One prepared GPU check (run on the lent device machine; see the issue notes for results).

1. Reward-model sweep: how held-out accuracy against fresh labeler labels moves with the amount of
   preference data (samples per prompt), sampling temperature, epochs and learning rate. A plain
   PyTorch Bradley-Terry loop (alignkit.reward.bradley_terry_loss) stands in for TRL's RewardTrainer
   here, so only torch and transformers are needed on the device.
2. PPO timing: `train_ppo` for a few steps on the GPU, rollout vs update seconds per step.

    python scripts/device_check.py --out results.json [--device cuda] [--rm-configs all|none] [--ppo-steps 10]
"""
from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from dataclasses import replace

import torch

from alignkit import zoo
from alignkit.generation import SampleConfig, reward_scores
from alignkit.reward import bradley_terry_loss, reward_model_from_sft, sample_pairs
from alignkit.world import find_task, load_world
from alignkit.world.files import read_jsonl
from alignkit.world.labelers import LabelerConfig, agreement_ceiling, label_pairs

RM_CONFIGS = [  # (samples_per_prompt, temperature, epochs, learning_rate)
    (4, 1.0, 1, 2e-4), (8, 1.5, 1, 2e-4), (8, 1.5, 3, 1e-4), (8, 1.5, 1, 5e-5), (16, 1.5, 1, 2e-4),
]


def encode(tokenizer, rows, key, device):
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": r["prompt"]},
                                            {"role": "assistant", "content": r[key]}], tokenize=False) for r in rows]
    return tokenizer(texts, return_tensors="pt", padding=True, padding_side="right", add_special_tokens=False).to(device)


def train_bt(rm, tokenizer, rows, epochs, lr, batch_size=32, seed=0):
    opt = torch.optim.AdamW(rm.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    total = max(1, epochs * math.ceil(len(rows) / batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / 5) * 0.5 * (1 + math.cos(math.pi * s / total)))
    device = next(rm.parameters()).device
    rm.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(rows), generator=g).split(batch_size):
            batch = [rows[i] for i in idx]
            chosen = rm(**encode(tokenizer, batch, "chosen", device)).logits[:, 0]
            rejected = rm(**encode(tokenizer, batch, "rejected", device)).logits[:, 0]
            loss = bradley_terry_loss(chosen, rejected)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    rm.eval()


def accuracy(rm, tokenizer, rows):
    prompts = [r["prompt"] for r in rows]
    c = reward_scores(rm, tokenizer, prompts, [r["chosen"] for r in rows], batch_size=512)
    r = reward_scores(rm, tokenizer, prompts, [r["rejected"] for r in rows], batch_size=512)
    return sum(0.5 if a == b else float(a > b) for a, b in zip(c, r)) / len(rows)


def rm_sweep(device):
    sft, tok = zoo.load("sft")
    sft.to(device)
    world = load_world()
    train_prompts = [r["prompt"] for r in read_jsonl("prompts_train.jsonl")]
    held = [r["prompt"] for r in read_jsonl("prompts_heldout.jsonl")]
    labeler = LabelerConfig()
    pairs = {}

    def pairs_for(prompts, k, temp, seed):
        key = (len(prompts), k, temp, seed)
        if key not in pairs:
            pairs[key] = sample_pairs(sft, tok, prompts, samples_per_prompt=k,
                                      sampling=SampleConfig(temperature=temp, batch_size=1200), seed=seed)
        return pairs[key]

    held_sets = {t: pairs_for(held, 4, t, 1000) for t in (1.0, 1.5)}
    held_rows = {t: label_pairs(p, replace(labeler, seed=1)) for t, p in held_sets.items()}
    ceilings = {t: agreement_ceiling(p, labeler) for t, p in held_sets.items()}
    results = []
    for k, temp, epochs, lr in RM_CONFIGS:
        start = time.time()
        rows = label_pairs(pairs_for(train_prompts, k, temp, 0), labeler)
        rm = reward_model_from_sft(sft, tok)
        train_bt(rm, tok, rows, epochs, lr)
        result = {"k": k, "temperature": temp, "epochs": epochs, "lr": lr, "train_pairs": len(rows),
                  "train_accuracy": round(accuracy(rm, tok, rows[:2000]), 4), "seconds": round(time.time() - start, 1)}
        for t, hrows in held_rows.items():
            by_cat = defaultdict(list)
            for r in hrows:
                task = find_task(world, r["prompt"])
                by_cat[task.category + ("*" if task.heldout_entity else "")].append(r)
            result[f"heldout_T{t}"] = {"accuracy": round(accuracy(rm, tok, hrows), 4), "pairs": len(hrows),
                                       "ceiling": round(ceilings[t]["accuracy_ceiling"], 4),
                                       "agreement": round(ceilings[t]["agreement"], 4),
                                       "by_category": {c: (len(v), round(accuracy(rm, tok, v), 3)) for c, v in by_cat.items()}}
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def ppo_timing(device, steps):
    from alignkit.ppo import PPOConfig
    from alignkit.ppo_train import ppo_models, train_ppo

    sft, tok = zoo.load("sft")
    rm = reward_model_from_sft(sft, tok)  # a stand-in RM: timing only
    models = [m.to(device) for m in ppo_models(sft.to(device), rm.to(device))]
    prompts = [r["prompt"] for r in read_jsonl("prompts_train.jsonl")]
    start = time.time()
    log = train_ppo(*models, tok, prompts, PPOConfig(), steps=steps)
    wall = time.time() - start
    rollout = [r["rollout_s"] for r in log[1:]]
    update = [r["update_s"] for r in log[1:]]
    out = {"device": str(device), "steps": steps, "wall_s": round(wall, 2),
           "rollout_s_per_step": round(sum(rollout) / len(rollout), 3),
           "update_s_per_step": round(sum(update) / len(update), 3),
           "first_step_s": round(log[0]["rollout_s"] + log[0]["update_s"], 3)}
    print(json.dumps(out), flush=True)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="device_check.json")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rm", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ppo-steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)  # not profiles.setup: the device image lacks `datasets`, which setup quietens
    device = torch.device(args.device)
    report = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    if args.ppo_steps:
        report["ppo"] = ppo_timing(device, args.ppo_steps)
    if args.rm:
        report["rm_sweep"] = rm_sweep(device)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
