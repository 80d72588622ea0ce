"""SQLite schema migrations, applied in order; PRAGMA user_version holds the version reached."""

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        category TEXT NOT NULL,
        level INTEGER NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        instruction TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        urgency TEXT NOT NULL,
        certainty TEXT NOT NULL,
        areas TEXT NOT NULL,          -- JSON array
        translations TEXT NOT NULL,   -- JSON object lang -> {title, body, instruction}
        event_key TEXT NOT NULL,
        version INTEGER NOT NULL,
        msg_type TEXT NOT NULL,
        mode TEXT NOT NULL,
        expires REAL,
        channels TEXT NOT NULL,       -- JSON array
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        refs TEXT,
        approved_by TEXT,
        approved_at REAL
    );
    CREATE INDEX alerts_event ON alerts(event_key) WHERE event_key != '';
    CREATE INDEX alerts_created ON alerts(created_at);

    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        contact TEXT NOT NULL,
        language TEXT NOT NULL,
        state TEXT NOT NULL,
        tester INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (channel, contact)
    );
    CREATE TABLE subscriptions (
        category TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        PRIMARY KEY (category, subscriber_id)
    ) WITHOUT ROWID;
    CREATE INDEX subscriptions_subscriber ON subscriptions(subscriber_id);

    -- recipient is a subscriber id, or 0 for the one row of a public channel
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipient INTEGER NOT NULL,
        lang TEXT NOT NULL,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        queued_at REAL NOT NULL,
        first_attempt_at REAL,
        sent_at REAL,
        next_attempt_at REAL NOT NULL,
        lease_until REAL,
        UNIQUE (alert_id, channel, recipient)
    );
    CREATE INDEX deliveries_due ON deliveries(channel, priority DESC, id) WHERE state = 'pending';

    -- kept in step with deliveries in the same transactions, so progress is cheap to read
    CREATE TABLE delivery_counts (
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        state TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (alert_id, channel, state)
    ) WITHOUT ROWID;

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        origin TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    CREATE TABLE feed_state (
        feed TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (feed, key)
    ) WITHOUT ROWID;
    CREATE TABLE feed_seen (
        feed TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        seen_at REAL NOT NULL,
        PRIMARY KEY (feed, entry_id)
    ) WITHOUT ROWID;
    """,
    # 2: remember which version replaced an alert, so an in-flight row of it is never retried after
    """
    ALTER TABLE alerts ADD COLUMN superseded_by TEXT;
    """,
    # 3: refusals counted per subscriber, so repeated bounces can pause delivery to them
    """
    ALTER TABLE subscribers ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: what each public channel has published, newest first (website pages, ticker lines, FM files)
    """
    CREATE INDEX deliveries_published ON deliveries(channel, sent_at) WHERE recipient = 0 AND state = 'sent';
    """,
    # 5: feed entries are forgotten after a month (store.mark_seen)
    """
    CREATE INDEX feed_seen_at ON feed_seen(seen_at);
    """,
    # 6: the console: accounts, sessions, API tokens, and who asked for a live alert's approval
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        must_change INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    -- id is a hash of the cookie value: a copy of the database opens no session
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        mode TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at REAL NOT NULL,
        seen_at REAL NOT NULL,
        origin TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user);
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,          -- sha256 of the token
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    ALTER TABLE alerts ADD COLUMN requested_by TEXT;
    CREATE INDEX alerts_state ON alerts(state);
    """,
    # 7: trust: a level's own scale, who wrote and when approval was asked, a rejection's reason,
    # staff contacts for approval notices
    """
    ALTER TABLE alerts ADD COLUMN badge TEXT NOT NULL DEFAULT '';
    ALTER TABLE alerts ADD COLUMN requested_at REAL;
    ALTER TABLE alerts ADD COLUMN rejection TEXT NOT NULL DEFAULT '';
    CREATE TABLE alert_authors (
        alert_id TEXT NOT NULL,
        name TEXT NOT NULL,
        first_at REAL NOT NULL,
        PRIMARY KEY (alert_id, name)
    ) WITHOUT ROWID;
    INSERT INTO alert_authors SELECT id, created_by, created_at FROM alerts;
    ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN line_id TEXT NOT NULL DEFAULT '';
    """,
    # 8: accounts: login throttling per name and per client instead of a lock a stranger could set
    # (broadcaster/accounts.py); the old columns users.failures and locked_until are no longer used
    """
    CREATE TABLE login_throttle (
        key TEXT PRIMARY KEY,              -- 'user:' + a name tried (an account or not), 'client:' + an address
        failures INTEGER NOT NULL,         -- attempts in a row that did not log in
        next_at REAL NOT NULL,             -- no attempt is checked before this time
        locked INTEGER NOT NULL DEFAULT 0, -- 1: only an admin or the owner's second factor lets the name in
        seen_at REAL NOT NULL              -- the last attempt
    ) WITHOUT ROWID;
    CREATE INDEX login_throttle_seen ON login_throttle(seen_at) WHERE locked = 0;
    UPDATE users SET failures = 0, locked_until = 0;
    """,
    # 9: accounts: TOTP second factor (RFC 6238) and recovery codes, and logins waiting for their code
    """
    ALTER TABLE users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';   -- base32; '' for none
    ALTER TABLE users ADD COLUMN totp_pending TEXT NOT NULL DEFAULT '';  -- being set up, not yet confirmed
    ALTER TABLE users ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;   -- the last step accepted: no replay
    CREATE TABLE recovery_codes (
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        id TEXT NOT NULL,                  -- sha256 of the code: each is 80 random bits, used once
        PRIMARY KEY (user, id)
    ) WITHOUT ROWID;
    -- id is a hash of the cookie value, as for sessions
    CREATE TABLE login_pending (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        origin TEXT NOT NULL
    );
    """,
    # 10: API tokens carry scopes (space-separated names, broadcaster/scopes.py). A token made before
    # scopes could do everything there was, so it keeps every scope of that time (scopes.BEFORE_SCOPES):
    # nothing that worked stops working. A new token gets only the scopes it is made with.
    """
    ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
    UPDATE api_tokens SET scopes = 'alerts:read drafts:write followups:write metrics:read';
    """,
    # 11: subscriber contacts encrypted at rest, looked up by a keyed hash (broadcaster/data_key.py).
    # contact holds the sealed bytes; contact_key is the key id they are sealed with, '' for a contact
    # still in plain text (a database from before 11): the first start with the key seals those, in Python.
    # The old UNIQUE (channel, contact) stays, harmless on random ciphertext: dropping it means rebuilding
    # the table, which foreign keys would cascade into subscriptions.
    """
    ALTER TABLE subscribers ADD COLUMN contact_hash BLOB;
    ALTER TABLE subscribers ADD COLUMN contact_key TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX subscribers_contact_hash ON subscribers(channel, contact_hash);
    CREATE INDEX subscribers_contact_key ON subscribers(contact_key);
    """,
    # 12: the audit log is a hash chain (broadcaster/store/sql_journal.py): every line carries the SHA-256
    # of the line before it and its own fields. The lines already there are chained here, in id order, by
    # audit_hash (sql_journal.entry_hash, registered on the connection before migrating); the trigger that
    # refuses UPDATE steps aside for that one statement and comes back in the same transaction.
    """
    DROP TRIGGER audit_no_update;
    ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
    CREATE TEMP TABLE audit_chain (id INTEGER PRIMARY KEY, hash TEXT NOT NULL);
    INSERT INTO audit_chain
        WITH RECURSIVE chain (id, hash) AS (
            SELECT id, audit_hash('', id, at, actor, action, target, detail, origin)
            FROM audit WHERE id = (SELECT min(id) FROM audit)
            UNION ALL
            SELECT a.id, audit_hash(chain.hash, a.id, a.at, a.actor, a.action, a.target, a.detail, a.origin)
            FROM chain JOIN audit a ON a.id = (SELECT min(id) FROM audit WHERE id > chain.id)
        )
        SELECT id, hash FROM chain;
    UPDATE audit SET hash = (SELECT hash FROM audit_chain WHERE audit_chain.id = audit.id);
    DROP TABLE audit_chain;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 13: districts (地区). An alert's ids (JSON; [] for the whole city). A subscriber's choice: one row per
    # district (the truth), whole_city = 1 when there is none, and district_mask, a bit per district from
    # district_bits (up to 63 districts get one), so that planning tests two integers per subscriber
    # instead of looking each one up (sql_subscribers.district_filter).
    """
    ALTER TABLE alerts ADD COLUMN districts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE subscribers ADD COLUMN whole_city INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE subscribers ADD COLUMN district_mask INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE subscriber_districts (
        district TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        PRIMARY KEY (district, subscriber_id)
    ) WITHOUT ROWID;
    CREATE INDEX subscriber_districts_subscriber ON subscriber_districts(subscriber_id);
    CREATE TABLE district_bits (
        district TEXT PRIMARY KEY,
        bit INTEGER NOT NULL UNIQUE CHECK (bit BETWEEN 0 AND 62)
    ) WITHOUT ROWID;
    """,
    # 14: languages. The phrasebook pattern an alert's words were built from, with its slot values (JSON
    # {"id", "slots"}; "" for free text); each translation now also says where its words came from
    # (a fourth element: officer, phrasebook or notice; rows without one were typed by an officer).
    """
    ALTER TABLE alerts ADD COLUMN phrase TEXT NOT NULL DEFAULT '';
    """,
)
