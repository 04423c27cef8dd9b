"""The test harness: what many test folders start and drive, in one place.

* :mod:`tests.harness.gateway`: a running gateway (``voxseal serve`` child process) and the
  ``gateway_server`` fixture.
* :mod:`tests.harness.rooms`: room clients (join tokens, a participant on the room WebSocket).
* :mod:`tests.harness.ingress`: a running telephony ingress and provider-shaped clients, with
  the ``ingress_alone`` / ``gateway_and_ingress`` fixtures.

Test modules import helpers from here, never from a conftest.py or another test module; a
folder's conftest.py registers the fixtures it needs by importing them from here.
"""
