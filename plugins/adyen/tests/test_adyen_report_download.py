"""REPORT_AVAILABLE notifications and the download of the settlement reports they announce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paymux.core.ports.provider import (
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    SettlementReportAvailable,
    WebhookVerificationError,
)
from paymux.core.providers import ProviderContext
from paymux.core.reconciliation.parsers import SettlementReportDownloader
from paymux_adyen import plugin
from paymux_adyen.config import AdyenConfig
from paymux_adyen.fake_psp import DEFAULT_HMAC_KEY, REPORTS
from paymux_adyen.harness import AdyenHarness
from paymux_adyen.provider import AdyenProvider
from paymux_adyen.signatures import sign_notification_item
from paymux_adyen.spec_validation import AdyenSpecs

FIXTURE = Path(__file__).parent / "fixtures" / "settlement_detail_report_batch_42.csv"
NAME = "settlement_detail_report_batch_42.csv"


def announced(harness: AdyenHarness, name: str = NAME, **changes: Any) -> list[Any]:
    """The provider's events for a signed REPORT_AVAILABLE of ``name`` (the fake serves
    the fixture under that name); ``changes`` alter the item after signing."""
    item = harness.fake.publish_report(name, FIXTURE.read_bytes())
    item.update(changes)
    return harness.provider.parse_webhook(*harness.fake.notification_batch(item))


def test_a_settlement_report_is_announced_with_its_url(
    harness: AdyenHarness, adyen_specs: AdyenSpecs
) -> None:
    item = harness.fake.publish_report(NAME, FIXTURE.read_bytes())
    headers, body = harness.fake.notification_batch(item)
    assert adyen_specs.webhook_errors("/REPORT_AVAILABLE", body) == []

    (event,) = harness.provider.parse_webhook(headers, body)

    assert isinstance(event, SettlementReportAvailable)
    assert event.report_name == NAME
    assert (
        event.download_url
        == f"{harness.fake.base_url}{REPORTS}/{harness.fake.merchant_account}/{NAME}"
    )
    assert event.event_id == f"{NAME}:REPORT_AVAILABLE:true"
    assert event.occurred_at is not None
    assert harness.provider.parse_webhook(headers, body) == [event]  # stable id


@pytest.mark.parametrize(
    "name",
    [
        "received_payments_report_2024_05_02.csv",
        "payments_accounting_report_2024_05_02.csv",
        "settlement_detail_report_batch_42.xlsx",
        "aggregate_settlement_details_report_2024_05.csv",
    ],
)
def test_other_reports_are_acknowledged_and_ignored(harness: AdyenHarness, name: str) -> None:
    assert announced(harness, name) == []


def test_a_report_of_another_merchant_account_is_ignored(harness: AdyenHarness) -> None:
    item = harness.fake.publish_report(NAME, FIXTURE.read_bytes())
    item["merchantAccountCode"] = "SomeoneElseECOM"
    item["additionalData"]["hmacSignature"] = sign_notification_item(item, harness.fake.hmac_key)
    assert harness.provider.parse_webhook(*harness.fake.notification_batch(item)) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/reports/download/MerchantAccount/PaymuxMarketplaceECOM/" + NAME,
        "{base}/reports/download/MerchantAccount/PaymuxMarketplaceECOM/other.csv",
        "{base}/reports/download/MerchantAccount/PaymuxMarketplaceECOM/" + NAME + "?x=1",
        "{base}/reports/../../secret/" + NAME,
        "http://user:pw@{host}/reports/" + NAME,
        "",
    ],
)
def test_a_download_url_elsewhere_refuses_the_batch(harness: AdyenHarness, url: str) -> None:
    # Adyen's HMAC does not sign ``reason``: a changed URL must not receive the credentials.
    base = harness.fake.base_url
    tampered = url.format(base=base, host=base.removeprefix("http://"))
    with pytest.raises(WebhookVerificationError, match="download URL"):
        announced(harness, reason=tampered)


async def test_the_report_is_downloaded_with_the_report_users_basic_auth(
    harness: AdyenHarness, tmp_path: Path
) -> None:
    (event,) = announced(harness)
    provider = harness.provider
    assert isinstance(provider, SettlementReportDownloader)
    destination = tmp_path / "report.csv"

    await provider.download_settlement_report(event, destination)

    assert destination.read_bytes() == FIXTURE.read_bytes()
    (download,) = harness.fake.downloads()
    assert download.method == "GET"
    assert download.headers["authorization"].startswith("Basic ")
    assert "x-api-key" not in download.headers


async def test_without_a_report_user_the_api_key_downloads(
    harness: AdyenHarness, tmp_path: Path
) -> None:
    harness.fake.report_api_key = "AQE_report_key"
    config = harness.config.model_copy(
        update={
            "report_username": None,
            "report_password": None,
            "report_api_key": "AQE_report_key",
        }
    )
    provider = AdyenProvider(config)
    (event,) = announced(harness)

    await provider.download_settlement_report(event, tmp_path / "r.csv")

    assert (tmp_path / "r.csv").read_bytes() == FIXTURE.read_bytes()
    (download,) = harness.fake.downloads()
    assert download.headers["x-api-key"] == "AQE_report_key"
    assert "authorization" not in download.headers


async def test_wrong_credentials_are_refused_for_good(
    harness: AdyenHarness, tmp_path: Path
) -> None:
    config = harness.config.model_copy(update={"report_password": "wrong"})
    (event,) = announced(harness)
    with pytest.raises(ProviderRejectedError) as refused:
        await AdyenProvider(config).download_settlement_report(event, tmp_path / "r.csv")
    assert refused.value.code == "adyen-report-unauthorized"
    assert not refused.value.retryable


async def test_a_report_adyen_does_not_have_is_refused(
    harness: AdyenHarness, tmp_path: Path
) -> None:
    (event,) = announced(harness)
    harness.fake.reports.clear()
    with pytest.raises(ProviderRejectedError) as refused:
        await harness.provider.download_settlement_report(event, tmp_path / "r.csv")
    assert refused.value.code == "adyen-report-not-found"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("unavailable", ProviderUnavailableError),
        ("rate_limited", ProviderRateLimitedError),
        ("timeout", ProviderTimeoutError),
        ("reset", ProviderUnavailableError),
    ],
)
async def test_a_failed_download_is_retryable(
    harness: AdyenHarness, tmp_path: Path, fault: str, error: type[Exception]
) -> None:
    (event,) = announced(harness)
    harness.fake.fail_next(fault)
    with pytest.raises(error) as failed:
        await harness.provider.download_settlement_report(event, tmp_path / "r.csv")
    assert getattr(failed.value, "retryable", False)
    await harness.provider.download_settlement_report(event, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes() == FIXTURE.read_bytes()


async def test_a_stored_url_is_checked_again_before_credentials_go_out(
    harness: AdyenHarness, tmp_path: Path
) -> None:
    forged = SettlementReportAvailable(
        event_id="x", report_name=NAME, download_url=f"https://evil.example/{NAME}"
    )
    with pytest.raises(ProviderRejectedError) as refused:
        await harness.provider.download_settlement_report(forged, tmp_path / "r.csv")
    assert refused.value.code == "adyen-report-url-refused"
    assert harness.fake.downloads() == []


def test_report_settings() -> None:
    base = {"api_key": "k", "merchant_account": "M", "hmac_key": "00"}
    assert AdyenConfig(**base).reports_origin == "https://ca-test.adyen.com"
    live = {**base, "environment": "live", "live_endpoint_prefix": "abc"}
    assert AdyenConfig(**live).reports_origin == "https://ca-live.adyen.com"
    assert AdyenConfig(**base, base_url="http://127.0.0.1:9/").reports_origin == (
        "http://127.0.0.1:9"
    )
    with pytest.raises(ValueError, match="go together"):
        AdyenConfig(**base, report_username="ReportUser@Company.X")


def test_the_spec_example_is_not_a_settlement_report(
    harness: AdyenHarness, adyen_specs: AdyenSpecs
) -> None:
    # Adyen's example names no settlement file: acknowledged, nothing to reconcile.
    examples = adyen_specs.raw("Webhooks-v1.json")["components"]["examples"]
    document = examples["post-REPORT_AVAILABLE-report_available"]["value"]
    item = document["notificationItems"][0]["NotificationRequestItem"]
    item["merchantAccountCode"] = harness.fake.merchant_account
    item["additionalData"]["hmacSignature"] = sign_notification_item(item, harness.fake.hmac_key)
    assert harness.provider.parse_webhook({}, json.dumps(document).encode()) == []


async def test_in_sandbox_mode_the_fake_lets_the_api_key_download(tmp_path: Path) -> None:
    context = ProviderContext(
        name="adyen",
        mode="sandbox",
        public_url="http://127.0.0.1:9",
        webhook_url="http://127.0.0.1:9/v1/webhooks/adyen",
        config={"api_key": "x", "merchant_account": "Shop", "hmac_key": DEFAULT_HMAC_KEY},
        sandbox=True,
    )
    provider = plugin.build_provider(context)
    assert isinstance(provider, AdyenProvider)
    try:
        url = f"{provider.base_url}{REPORTS}/Shop/{NAME}"
        report = SettlementReportAvailable("e1", NAME, url)
        with pytest.raises(ProviderRejectedError) as missing:
            await provider.download_settlement_report(report, tmp_path / "r.csv")
        assert missing.value.code == "adyen-report-not-found"  # authenticated, no such file
    finally:
        await provider.aclose()
