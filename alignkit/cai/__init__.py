"""Floor 4: Constitutional AI: the (A)/(B) AI feedback, the feedback model, SL-CAI, RL-CAI and self-instruct."""
