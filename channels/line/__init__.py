"""LINE: the rendering (no SDK) and the channel (line-bot-sdk v3), one module each."""
