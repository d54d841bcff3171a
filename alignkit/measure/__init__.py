"""Floor 5: the evaluation harness, best-of-n, trivial baselines and the statistics every chapter reports."""
