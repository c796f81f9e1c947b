"""The catalog: every experiment of the book by name, as a config. :mod:`.table2` is the seed
paper's DCGAN and its Table II, :mod:`.designs` each chapter's arms, :mod:`.registry` the
names (``table2:10``, ``wn:bn``, ...) and :func:`~.registry.for_profile`, the one place a
name becomes the config every runner trains. Plain data built from :mod:`bngan.config` and
:mod:`bngan.profiles`: it imports only the top-level shared modules, and no torch."""
