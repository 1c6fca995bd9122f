"""Network plugins: the addresses share servers of DHSS=True backends get (see :mod:`manila_lite.network.base`)."""
