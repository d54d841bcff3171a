"""Experiments too long to run live in a chapter, measured once into data/results/ (each file records its command).

`frontier` (the reward-KL frontier of DPO and PPO), `sweeps` (PPO over kl_coef and seeds), `seeds`
(seed-to-seed and sampling-seed spread of zoo checkpoints), `kto` (KTO against DPO, one output per
prompt, imbalance, without SFT). Each trains through `alignkit.zoo.recipes`' setups and the methods' own
`train_*`; `scripts/` only parses arguments and calls them.
"""
