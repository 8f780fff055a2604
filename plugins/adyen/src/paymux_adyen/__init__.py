"""paymux's Adyen plugin: payment links, refunds, balance-platform transfers, HMAC webhooks."""
