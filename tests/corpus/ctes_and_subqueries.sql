-- Town Lake read queries: CTEs, subqueries, set operations.

-- title: spend growth month over month with CTEs
-- expect: ok
WITH monthly AS (
  SELECT date_trunc('month', usage_date) AS month, sum(amount_usd) AS usd FROM billing_usage GROUP BY 1
), growth AS (
  SELECT month, usd, usd - lag(usd) OVER (ORDER BY month) AS delta FROM monthly
)
SELECT * FROM growth ORDER BY month

-- title: accounts above their plan's average spend (correlated subquery)
-- expect: ok
WITH spend AS (SELECT account_id, sum(amount_usd) AS usd FROM billing_usage GROUP BY account_id)
SELECT a.plan, count(*) AS above_average
FROM accounts a JOIN spend s USING (account_id)
WHERE s.usd > (SELECT avg(s2.usd) FROM spend s2 JOIN accounts a2 USING (account_id) WHERE a2.plan = a.plan)
GROUP BY a.plan ORDER BY a.plan

-- title: scalar subqueries in the select list
-- expect: ok
SELECT (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM domains) AS domains, (SELECT count(*) FROM support_tickets WHERE status = 'open') AS open_tickets

-- title: EXISTS and NOT EXISTS
-- expect: ok
SELECT a.plan, count(*) AS quiet_accounts FROM accounts a
WHERE NOT EXISTS (SELECT 1 FROM support_tickets t WHERE t.account_id = a.account_id)
  AND EXISTS (SELECT 1 FROM domains d WHERE d.account_id = a.account_id AND d.status = 'active')
GROUP BY a.plan ORDER BY a.plan

-- title: UNION ALL of two event streams
-- expect: ok
SELECT 'signup' AS kind, date_trunc('month', created_at) AS month, count(*) AS n FROM accounts GROUP BY ALL
UNION ALL
SELECT 'ticket', date_trunc('month', opened_at), count(*) FROM support_tickets GROUP BY ALL
ORDER BY kind, month

-- title: UNION (distinct) of account ids seen in billing or tickets
-- expect: ok
SELECT count(*) FROM (SELECT account_id FROM billing_usage UNION SELECT account_id FROM support_tickets)

-- title: INTERSECT and EXCEPT
-- expect: ok
SELECT (SELECT count(*) FROM (SELECT account_id FROM billing_usage INTERSECT SELECT account_id FROM support_tickets)) AS both_,
       (SELECT count(*) FROM (SELECT account_id FROM accounts EXCEPT SELECT account_id FROM billing_usage)) AS never_billed

-- title: lateral join for each account's latest ticket
-- expect: ok
SELECT a.account_id, t.ticket_id, t.opened_at
FROM accounts a, LATERAL (SELECT ticket_id, opened_at FROM support_tickets s WHERE s.account_id = a.account_id ORDER BY opened_at DESC, ticket_id DESC LIMIT 1) t
ORDER BY a.account_id LIMIT 20

-- title: recursive CTE for a calendar spine
-- expect: ok
WITH RECURSIVE days(day) AS (SELECT DATE '2026-06-01' UNION ALL SELECT day + 1 FROM days WHERE day < DATE '2026-06-30')
SELECT d.day, coalesce(sum(b.amount_usd), 0) AS usd FROM days d LEFT JOIN billing_usage b ON b.usage_date = d.day GROUP BY d.day ORDER BY d.day

-- title: derived table with column aliases
-- expect: ok
SELECT s.p, s.n FROM (SELECT plan, count(*) FROM accounts GROUP BY plan) AS s(p, n) ORDER BY s.n DESC, s.p

-- title: IN list and BETWEEN filters
-- expect: ok
SELECT count(*) FROM support_tickets WHERE priority IN ('P1', 'P2') AND opened_at BETWEEN TIMESTAMP '2026-05-01' AND TIMESTAMP '2026-06-01'

-- title: ANY with a subquery
-- expect: ok
SELECT count(*) FROM domains WHERE account_id = ANY (SELECT account_id FROM accounts WHERE plan = 'enterprise')
