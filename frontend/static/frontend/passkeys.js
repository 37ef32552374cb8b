// Account security: once django-otp-webauthn's script has registered a passkey, show the page
// again (the new passkey listed, the session now signed in with a second factor).
document.addEventListener("otp_webauthn.register_complete", () => window.location.reload());
