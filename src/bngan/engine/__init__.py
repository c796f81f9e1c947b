"""The engine: one training iteration of a GAN, in memory. The loss functions, the
iteration written once (:mod:`.routine`: draws, D's update by routine, G's step, what is
monitored), the BN probes, the one-seed step (:mod:`.step`), seed groups under ``vmap``
(:mod:`.seed_group`) and their CUDA-graph replay (:mod:`.step_graph`). It steps networks it
is given and knows no run folder, record or checkpoint; it imports :mod:`bngan.models` and the
top-level shared modules only."""
