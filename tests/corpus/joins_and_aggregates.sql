-- Town Lake read queries: joins, aggregates and sampled estimates.

-- title: accounts per plan and region
-- expect: ok
-- tables: accounts
SELECT plan, region, count(*) AS accounts FROM accounts GROUP BY plan, region ORDER BY plan, region

-- title: estimated requests per plan last 7 days (1% sample scaled up)
-- expect: ok
-- tables: accounts, domains, http_requests_sampled
SELECT a.plan, sum(h.requests * h.sample_interval) AS est_requests
FROM http_requests_sampled h
JOIN domains d ON d.domain_id = h.domain_id
JOIN accounts a ON a.account_id = d.account_id
WHERE h.day > DATE '2026-06-30' - INTERVAL 7 DAY
GROUP BY a.plan
ORDER BY est_requests DESC

-- title: spend per product in the last 30 days
-- expect: ok
-- tables: billing_usage
SELECT product, sum(amount_usd) AS usd, sum(quantity) AS qty FROM billing_usage WHERE usage_date >= DATE '2026-06-01' GROUP BY product ORDER BY usd DESC

-- title: top 10 accounts by spend, internal accounts excluded
-- expect: ok
-- tables: accounts, billing_usage
SELECT a.account_name, a.plan, sum(b.amount_usd) AS usd
FROM billing_usage b JOIN accounts a USING (account_id)
WHERE NOT a.is_internal
GROUP BY a.account_name, a.plan
ORDER BY usd DESC, a.account_name
LIMIT 10

-- title: open P1 tickets by region
-- expect: ok
-- tables: accounts, support_tickets
SELECT a.region, count(*) AS open_p1 FROM support_tickets t JOIN accounts a ON a.account_id = t.account_id WHERE t.priority = 'P1' AND t.status <> 'solved' GROUP BY a.region ORDER BY open_p1 DESC, a.region

-- title: median hours to close by priority
-- expect: ok
SELECT priority, median(date_diff('minute', opened_at, closed_at)) / 60.0 AS median_hours, count(*) FILTER (WHERE closed_at IS NULL) AS still_open FROM support_tickets GROUP BY priority ORDER BY priority

-- title: domains per status with a left join to traffic
-- expect: ok
SELECT d.status, count(DISTINCT d.domain_id) AS domains, count(DISTINCT h.domain_id) AS with_traffic
FROM domains d LEFT JOIN http_requests_sampled h ON h.domain_id = d.domain_id AND h.day = DATE '2026-06-30'
GROUP BY d.status ORDER BY d.status

-- title: accounts without any domain (anti join)
-- expect: ok
SELECT count(*) AS accounts_without_domains FROM accounts a ANTI JOIN domains d ON d.account_id = a.account_id

-- title: accounts with tickets and spend (semi joins)
-- expect: ok
SELECT count(*) FROM accounts a SEMI JOIN support_tickets t ON t.account_id = a.account_id WHERE a.account_id IN (SELECT account_id FROM billing_usage WHERE amount_usd > 100)

-- title: cache hit ratio and threat share per client country
-- expect: ok
SELECT client_country, round(sum(cached_requests) / sum(requests), 4) AS cache_ratio, round(100.0 * sum(threats) / sum(requests), 3) AS threat_pct FROM http_requests_sampled GROUP BY client_country HAVING sum(requests) > 1000 ORDER BY cache_ratio DESC, client_country LIMIT 15

-- title: NXDOMAIN rate per day for the stale DNS table
-- expect: ok
SELECT day, sum(nxdomain) / sum(queries) AS nx_rate FROM dns_queries_daily GROUP BY day ORDER BY day DESC LIMIT 10

-- title: enterprise versus the rest with conditional aggregates
-- expect: ok
SELECT region, sum(amount_usd) FILTER (WHERE plan = 'enterprise') AS enterprise_usd, sum(amount_usd) FILTER (WHERE plan <> 'enterprise') AS other_usd
FROM billing_usage JOIN accounts USING (account_id) GROUP BY region ORDER BY region

-- title: GROUPING SETS over plan and region
-- expect: ok
SELECT plan, region, count(*) AS n, grouping(plan, region) AS g FROM accounts GROUP BY GROUPING SETS ((plan), (region), ()) ORDER BY g, plan, region

-- title: ROLLUP of tickets by category and priority
-- expect: ok
SELECT category, priority, count(*) FROM support_tickets GROUP BY ROLLUP (category, priority) ORDER BY category NULLS LAST, priority NULLS LAST

-- title: top domains by traffic rank on the latest day
-- expect: ok
-- tables: domains, traffic_rank_daily
SELECT r.traffic_rank, d.domain_name, r.est_requests
FROM traffic_rank_daily r JOIN domains d USING (domain_id)
WHERE r.day = (SELECT max(day) FROM traffic_rank_daily) AND r.traffic_rank <= 10
ORDER BY r.traffic_rank
