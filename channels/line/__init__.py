"""LINE: the rendering (no SDK) and the channel (line-bot-sdk v3), one module each."""

TOKEN_ENV = "LINE_CHANNEL_ACCESS_TOKEN"  # the channel's one credential; here, so naming it loads no SDK
