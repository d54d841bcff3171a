"""Floor 3: models and what every method uses: tokenizer, models, generation, log-probs and KL, LoRA, the TRL driver, profiles, the stand-in."""
