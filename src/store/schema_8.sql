-- Operator accounts: who may sign in at this station, and in which role.
-- The secret (PIN or passphrase) is kept only as an Argon2id hash in PHC form.
-- Failures in a row count towards a lock; a lock ends at locked_until.
CREATE TABLE operators (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin')),
    secret_hash TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created TEXT NOT NULL
) STRICT;
