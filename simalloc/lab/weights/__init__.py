"""The default task specs' warm-started networks (float32 state dicts named ``warm-<key>.pt``, ``warm_key``): loaded
by ``simalloc.lab.warm_start`` instead of retraining, so every machine starts from the same network."""
