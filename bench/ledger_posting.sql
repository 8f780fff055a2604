-- The plain-SQL bound of bench_ledger.py: one ledger posting transaction per run of the script,
-- written straight into paymux's own ledger tables (ledger_transaction, ledger_posting,
-- ledger_account) after bench_ledger.py migrated the database and opened the accounts.
--
--   pgbench -n -M prepared -f bench/ledger_posting.sql -D sellers=1000 -D mix=0 -c 8 -j 2 -T 5 <db>
--
-- -D mix=0      "uniform": a shipment without fees between two balance rows of one random
--               seller (debit seller_pending, credit seller_available): 2 postings, 2 UPDATEs.
-- -D mix=1      "hot": half payment_succeeded (debit the provider's psp_clearing, credit a
--               random seller's seller_pending: 2 postings, 1 UPDATE), half shipment with fees
--               (pending -> available + the platform's commission and logistics_fees: 4
--               postings, 2 UPDATEs). The provider and platform accounts have no balance row,
--               as in paymux: every client inserts postings for them, none updates them.
-- -D sellers=1  with mix=0: every client updates the same two balance rows ("hot row"), the
--               raw cost of keeping a balance row on an account every transaction touches.
--
-- Balance rows change with a conditional UPDATE (a liability's debit-positive balance must stay
-- <= 0), in paymux's key order (seller_available before seller_pending). RETURNING ... \gset
-- makes a guard that matched no row abort the client, so a run that pgbench reports as complete
-- kept every guard. Ids and references are random, as paymux's are.

\set s random(1, :sellers)
\set amount random(100, 10000)
\if :mix = 1
\set shipment random(0, 1)
\else
\set shipment 1
\endif
\set fees :mix * :amount / 10

BEGIN;
INSERT INTO ledger_transaction (id, client_id, reference, kind, details, created_at)
  VALUES ('ltx_' || substr(md5(random()::text), 1, 24), 'bench',
          'pgbench:' || gen_random_uuid(), 'pgbench', '{}', now())
  RETURNING id AS tx \gset
\if :shipment
INSERT INTO ledger_posting (transaction_id, account_id, amount_minor, currency, created_at)
  SELECT :tx, a.id, v.amount, 'EUR', now()
  FROM (VALUES ('seller', 'seller-' || :s, 'seller_pending', :amount::bigint),
               ('seller', 'seller-' || :s, 'seller_available', -(:amount::bigint - 2 * :fees::bigint)),
               ('platform', 'platform', 'commission', -:fees::bigint),
               ('platform', 'platform', 'logistics_fees', -:fees::bigint)) AS v(kind, owner, purpose, amount)
  JOIN ledger_account a ON a.client_id = 'bench' AND a.owner_kind = v.kind
    AND a.owner_id = v.owner AND a.purpose = v.purpose AND a.currency = 'EUR'
  WHERE v.amount <> 0;
UPDATE ledger_account SET balance_minor = balance_minor - (:amount::bigint - 2 * :fees::bigint)
  WHERE client_id = 'bench' AND owner_kind = 'seller' AND owner_id = 'seller-' || :s
    AND purpose = 'seller_available' AND currency = 'EUR'
    AND balance_minor - (:amount::bigint - 2 * :fees::bigint) <= 0
  RETURNING id AS available \gset
UPDATE ledger_account SET balance_minor = balance_minor + :amount::bigint
  WHERE client_id = 'bench' AND owner_kind = 'seller' AND owner_id = 'seller-' || :s
    AND purpose = 'seller_pending' AND currency = 'EUR'
    AND balance_minor + :amount::bigint <= 0
  RETURNING id AS pending \gset
\else
INSERT INTO ledger_posting (transaction_id, account_id, amount_minor, currency, created_at)
  SELECT :tx, a.id, v.amount, 'EUR', now()
  FROM (VALUES ('provider', 'sandbox', 'psp_clearing', :amount::bigint),
               ('seller', 'seller-' || :s, 'seller_pending', -:amount::bigint)) AS v(kind, owner, purpose, amount)
  JOIN ledger_account a ON a.client_id = 'bench' AND a.owner_kind = v.kind
    AND a.owner_id = v.owner AND a.purpose = v.purpose AND a.currency = 'EUR';
UPDATE ledger_account SET balance_minor = balance_minor - :amount::bigint
  WHERE client_id = 'bench' AND owner_kind = 'seller' AND owner_id = 'seller-' || :s
    AND purpose = 'seller_pending' AND currency = 'EUR'
    AND balance_minor - :amount::bigint <= 0
  RETURNING id AS pending \gset
\endif
END;
