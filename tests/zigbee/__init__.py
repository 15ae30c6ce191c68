"""Tests of the Zigbee layer on the simulated network, without Home Assistant."""
