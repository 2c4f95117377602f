# Freestanding test guests (see tests/guest/README.md). Included by the top Makefile.
guests:
