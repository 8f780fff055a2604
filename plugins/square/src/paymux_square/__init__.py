"""paymux-square: paymux's provider plugin for Square (Payment Links, orders, refunds).

The provider is :class:`paymux_square.provider.SquareProvider`; the plugin's hooks live in
:mod:`paymux_square.plugin`. :mod:`paymux_square.fake_psp` is a fake Square API for tests and
sandbox use, and :class:`paymux_square.harness.SquareHarness` drives it for paymux's
conformance suite.
"""
