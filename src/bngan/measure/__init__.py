"""The measures: numbers computed from networks, samples and histories, with no idea where
they came from. Reconstruction error, diversity, SWD and MMD (:mod:`.metrics`), FID/KID on a
small classifier's features (:mod:`.quality`), power spectra and the checkerboard score
(:mod:`.spectra`), loss-band overlap (:mod:`.histories`), generators with a known defect
(:mod:`.baselines`), a batch normalized alone or with another (:mod:`.split_norm`). Imports
only the top-level shared modules (data, files): the trainer calls these, so they cannot call
back into runs."""
