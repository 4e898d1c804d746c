"""Training: configs, datasets, the training loop and the vocoder trainer (resumable, logged, plotted)."""
