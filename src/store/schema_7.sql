-- A claim on an outbox row while a process sends it: who (host, process, run)
-- and until when. A sender claims a batch in one transaction before sending a
-- byte and renews the claim between records; a claim whose owner died expires
-- and is taken over, so two senders never send the same batch at once.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
