"""What the X client's tests share: the platform's app and OAuth 2.0 client on the sandbox X
(``conftest.link_x`` registers them)."""

LINK_CLIENT_ID = "bragabot-platform"
LINK_CALLBACK = "https://localhost/x/callback"
LINK_APP_TOKEN = "platform-app-token"
