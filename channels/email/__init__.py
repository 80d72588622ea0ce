"""Safety email: the channel, its SMTP connection pool, and the one-off mailer."""
