"""paymux-acmepay: the example provider plugin of paymux's docs ("Writing a provider plugin")."""
