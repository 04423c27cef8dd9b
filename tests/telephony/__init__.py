"""Tests of voxseal.telephony: codecs, webhook signatures, stream tokens, provider protocols."""
