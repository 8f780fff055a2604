"""paymux-stripe: the Stripe provider plugin and a fake Stripe for tests and sandboxes."""
