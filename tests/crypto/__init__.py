"""Tests of voxseal.crypto: RFC vectors, properties, refusals."""
