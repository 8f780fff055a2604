"""The ``paymux`` entry point of paymux-ecb-rates: offers the ``ecb`` rate source."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.fx.rates import RateSource
from paymux.core.hookspecs import hookimpl
from paymux.core.settings import Settings
from paymux_ecb_rates.settings import EcbSettings
from paymux_ecb_rates.source import EcbRateSource, fetch_url, read_file


@hookimpl
def paymux_add_rate_sources(settings: Settings) -> Sequence[RateSource]:
    """The ``ecb`` source: ``PAYMUX_ECB__FILE`` when set, else ``PAYMUX_ECB__URL``."""
    ecb = EcbSettings()
    fetch = (
        read_file(ecb.file)
        if ecb.file is not None
        else fetch_url(ecb.url, timeout_seconds=ecb.timeout_seconds)
    )
    return [EcbRateSource(fetch, refresh_seconds=ecb.refresh_seconds)]
