"""Community FM: the channel, its speech engines and the spoken form of the text."""
