"""Floor 4: one module per method (pretrain, sft, reward, ppo with its loop, dpo, kto) and the preference data they share; none imports another."""
