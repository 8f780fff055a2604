"""paymux-sandbox: a PSP simulator and its provider plugin."""
