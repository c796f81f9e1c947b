"""bngan: build, train, measure and plot DCGANs to study batch normalization in GANs."""

__version__ = "0.1.0"
