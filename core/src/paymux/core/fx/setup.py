"""Choosing the rate source quotes are locked from, as the settings say."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from paymux.core.fx.fixed_rates import FixedRateSource
from paymux.core.fx.quotes import Quoter
from paymux.core.fx.rates import RateSource
from paymux.core.settings import FxSettings


class FxSetupError(ValueError):
    """The FX settings name a source that is not there, or several sources need a choice."""


def build_quoter(
    offered: Sequence[RateSource],
    settings: FxSettings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Quoter | None:
    """The quoter of the source ``settings.source`` names, among the plugins' sources and
    the built-in ``fixed`` one (when ``settings.fixed_rates`` gives rates).

    Without ``settings.source``: the ``fixed`` source when rates are given, else the only
    source a plugin offers. ``None`` when there is no source at all: paymux then takes only
    payments and payouts that need no conversion. Raises :class:`FxSetupError` when
    ``settings.source`` names an unknown source, or when there are several and none is named.
    """
    sources = list(offered)
    if settings.fixed_rates:
        if any(source.name == "fixed" for source in sources):
            raise FxSetupError("a plugin offers a rate source named 'fixed': rename it")
        sources.append(FixedRateSource(settings.fixed_rates))
    names = sorted(source.name for source in sources)
    if settings.source is not None:
        chosen = [source for source in sources if source.name == settings.source]
        if not chosen:
            offered_names = ", ".join(names) or "none"
            raise FxSetupError(
                f"PAYMUX_FX__SOURCE is {settings.source!r}, but the rate sources are: "
                f"{offered_names}"
            )
        source = chosen[0]
    elif settings.fixed_rates:
        source = sources[-1]
    elif not sources:
        return None
    elif len(sources) > 1:
        raise FxSetupError(
            f"several rate sources ({', '.join(names)}): choose one with PAYMUX_FX__SOURCE"
        )
    else:
        source = sources[0]
    return Quoter(
        source,
        lock_seconds=settings.lock_seconds,
        max_rate_age_days=settings.max_rate_age_days,
        clock=clock,
    )
